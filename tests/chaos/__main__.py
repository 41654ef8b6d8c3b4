"""`make chaos` (full size) and the CI test (``--size ci``): chaos runs with real processes,
then the invariant checker; prints the figures, exits 1 on any breach.

    PYTHONPATH=tests python -m chaos [--size ci|full] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.core import Processes

from chaos.procs import workdir_log_tails
from chaos.run import CI, FULL, Figures, run_backend

FIGURE_ROWS = (
    "leads", "accepted_conversations", "persons", "returning", "shared_phones",
    "duplicates_sent", "office_edits", "webhooks_replayed", "faults_injected", "kills",
    "outage_seconds", "db_interruptions", "disk_full_seconds", "lost", "duplicated",
    "conflicts", "dead_letters", "drain_seconds", "run_seconds", "loadavg",
)  # fmt: skip


def report(figures: Figures) -> str:
    lines = [f"chaos {figures.backend}: {'PASS' if figures.ok else 'FAIL'}"]
    lines += [f"  {name:<24}{getattr(figures, name)}" for name in FIGURE_ROWS]
    lines.append(f"  {'answers':<24}{figures.answers}")
    for check, breaches in figures.breaches.items():
        lines.append(f"  check {check:<22}{'ok' if not breaches else f'{len(breaches)} BREACHES'}")
        lines += [f"    - {b}" for b in breaches[:20]]
    return "\n".join(lines)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}


async def main(args: argparse.Namespace) -> list[Figures]:
    sizes = CI if args.size == "ci" else FULL
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        size = sizes[backend]
        if args.leads:
            size = dataclasses.replace(size, leads=args.leads)
        workdir = Path(tempfile.mkdtemp(prefix=f"leadsync-chaos-{backend}-"))
        procs = Processes(workdir, env=_env())
        try:
            figures = await run_backend(
                procs, backend=backend, size=size, pg_url=args.pg_url, seed=args.seed
            )
        finally:
            procs.stop_all()
        print(report(figures), flush=True)
        results.append(figures)
        if figures.ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs kept in {workdir}\n{workdir_log_tails(workdir)}", flush=True)
    return results


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--size", choices=["ci", "full"], default="full")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--leads", type=int, default=0, help="override the size's lead count")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "LEADSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    runs = asyncio.run(main(arguments))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps([r.as_dict() for r in runs], indent=2))
    sys.exit(0 if all(r.ok for r in runs) else 1)
