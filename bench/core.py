"""The measuring kit of the benchmarks: open-loop and closed-loop load, percentiles, medians
over repeats, and real processes on 127.0.0.1 that are always stopped.

Open loop: request i is *scheduled* at ``t0 + i / rate`` and its latency is counted from that
scheduled moment, not from when the generator got round to sending it. A stalled server
therefore shows up as latency instead of silently slowing the generator down (no
coordinated omission).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

#: The `leadsync` command of the interpreter running the bench.
LEADSYNC = str(Path(sys.executable).with_name("leadsync"))
#: A row that runs longer than this is cut off (and its processes stopped).
ROW_LIMIT_SECONDS = 1800.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def spread(values: Sequence[float | None]) -> dict[str, float | None]:
    """Median, min and max of the repeats (None where a repeat had no value)."""
    real = [v for v in values if v is not None]
    if not real:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(real), "min": min(real), "max": max(real)}


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


async def open_loop(
    *, rate: float, count: int, send: Callable[[int, float], Coroutine[Any, Any, None]]
) -> None:
    """Call ``send(i, scheduled_at)`` for i in range(count) at fixed times (``rate`` per
    second, monotonic clock); every call is awaited and its exception surfaces."""
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.05
    tasks: list[asyncio.Task[None]] = []
    for i in range(count):
        at = t0 + i / rate
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i, at)))
    await asyncio.gather(*tasks)


async def closed_loop(
    *, concurrency: int, count: int, op: Callable[[int], Awaitable[None]]
) -> None:
    """Run ``op(i)`` for i in range(count) with at most ``concurrency`` in flight."""
    queue = iter(range(count))

    async def lane() -> None:
        for i in queue:
            await op(i)

    await asyncio.gather(*(lane() for _ in range(concurrency)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int, *, field: str = "VmRSS") -> float | None:
    """Resident (VmRSS) or peak resident (VmHWM) memory of a live process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU a live process has used so far, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime: fields 14 and 15 of proc(5), counted after the ")" of the name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@dataclass
class Proc:
    """A child process with its output in a log file; stopped with SIGINT, then killed."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    started: float

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, *, grace: float = 20.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        return self.popen.returncode

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Processes:
    """The processes of one benchmark run: bounded in time, all stopped on exit."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self._procs: list[Proc] = []

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Proc:
        log = self.workdir / f"{name}-{len(self._procs)}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed args
            list(args),
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**self.env, **(env or {})},
            cwd=self.workdir,
        )
        handle.close()
        proc = Proc(name, popen, log, time.monotonic())
        self._procs.append(proc)
        return proc

    def leadsync(self, name: str, *args: str, env: dict[str, str] | None = None) -> Proc:
        return self.start(name, LEADSYNC, *args, env=env)

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
        """Run a command to completion; its stdout (raises with its output on failure)."""
        done = subprocess.run(  # noqa: S603
            list(args),
            capture_output=True,
            env={**self.env, **(env or {})},
            cwd=self.workdir,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:4])} failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace')[-2000:]}"
            )
        return done.stdout.decode()

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
        return self.run(LEADSYNC, *args, env=env, timeout=timeout)

    def stop_all(self) -> None:
        for proc in reversed(self._procs):
            with contextlib.suppress(Exception):
                proc.stop()
        self._procs.clear()


async def wait_http(url: str, *, proc: Proc, within: float = 60.0) -> None:
    """Wait until ``url`` answers 2xx (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + within
    async with httpx2.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
            with contextlib.suppress(httpx2.HTTPError):
                if (await client.get(url)).is_success:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {url} within {within} s:\n{proc.tail()}")


async def wait_for(check: Callable[[], Awaitable[bool]], *, within: float, every: float) -> bool:
    """Poll ``check`` until true or ``within`` seconds pass; whether it became true."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(every)
    return False


def result_of(values: dict[str, Any]) -> dict[str, Any]:
    """Drop None-valued keys' noise: round floats for the JSON."""
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in values.items()}
