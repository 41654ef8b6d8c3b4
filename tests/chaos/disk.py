"""A full disk under `leadsync up`: its data folder on a small tmpfs of its own, filled to
the last byte for a while, then emptied again. Only that tmpfs is ever filled, never a disk
of the machine. Mounting needs root (CI runs as root); elsewhere the harm is skipped and the
run says so."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: The tmpfs's size: room for a full-size run's database, small enough to fill at once.
DISK_MB = 512
_CHUNKS = (1 << 20, 1 << 12, 1)


@dataclass
class SmallDisk:
    path: Path
    #: Seconds it was full in this run (the figure).
    full_seconds: float = 0.0

    async def full_for(self, seconds: float) -> None:
        """Fill every byte, keep it full ``seconds``, then free it (a full disk cleared by
        an operator)."""
        filler = self.path / "filler"
        await asyncio.to_thread(_fill, filler)
        try:
            await asyncio.sleep(seconds)  # the full disk itself, not a wait for a state
        finally:
            filler.unlink()
        self.full_seconds += seconds


def _fill(filler: Path) -> None:
    with filler.open("wb", buffering=0) as out:
        for chunk in _CHUNKS:
            block = bytes(chunk)
            while True:
                try:
                    out.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break


@contextlib.contextmanager
def small_disk(workdir: Path, *, wanted: bool) -> Iterator[SmallDisk | None]:
    """A mounted tmpfs under ``workdir`` (unmounted on exit), or None when not ``wanted``
    or when this user cannot mount one."""
    if not wanted:
        yield None
        return
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield None
        return
    path = workdir / "small-disk"
    path.mkdir(mode=0o700)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        yield None
        return
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=False)
