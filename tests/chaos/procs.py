"""The real processes of a chaos run and the harm done to them: the sandbox (stopped for a
ResMan outage, then started again on its state file), `leadsync serve` + two `leadsync worker`
on PostgreSQL or `leadsync up` on SQLite (SIGKILLed and restarted), and PostgreSQL connections
cut with pg_terminate_backend — on the run's OWN database only, never the shared server.

Process handling comes from the benchmarks (bench/core.py, bench/stacks.py)."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import psycopg
from bench.core import Proc, Processes, free_port, wait_http
from psycopg import sql
from sqlalchemy.engine import make_url

from bench import faults_kit, stacks
from chaos.disk import SmallDisk
from leadsync.sandbox.admin_client import open_admin

#: leadsync's settings for the run (the fault rows' own: a 2 s read timeout so a hang is a
#: timeout, back-off capped at 15 s), with JSON logs to grep.
SERVICE_ENV = {**faults_kit.SERVICE_ENV, "LEADSYNC_LOG_FORMAT": "json"}


@dataclass
class Sandbox:
    """`leadsync sandbox` on a fixed port with a state file, so a restart keeps ResMan's
    prospects (an outage, not a data loss)."""

    procs: Processes
    seed: int
    port: int = field(default_factory=free_port)
    proc: Proc | None = None
    webhook: tuple[str, str] | None = None
    #: Faults injected by earlier incarnations (the counters restart with the process).
    faults_before: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        state = self.procs.workdir / "sandbox-state.db"
        args = ["sandbox", "--port", str(self.port), "--state-file", str(state)]
        self.proc = self.procs.leadsync("sandbox", *args)
        await wait_http(f"{self.url}/admin/health", proc=self.proc, within=120)
        async with httpx2.AsyncClient(base_url=self.url, timeout=30) as admin:
            # 20 % of calls fail in equal shares: a 5xx, a 429 with Retry-After, a hang after
            # which ResMan still does the work, a dropped connection (the bench's fault row).
            faults = {**faults_kit.MIXED_FAULTS, "seed": self.seed}
            (await admin.put("/admin/faults", json=faults)).raise_for_status()
        if self.webhook is not None:
            await self.set_webhook(*self.webhook)

    async def set_webhook(self, url: str, secret: str) -> None:
        self.webhook = (url, secret)
        async with open_admin(self.url) as admin:
            await admin.set_webhook(url=url, secret=secret)

    async def stats(self) -> dict[str, Any]:
        async with httpx2.AsyncClient(base_url=self.url, timeout=30) as admin:
            answer = await admin.get("/admin/stats")
            answer.raise_for_status()
            body: dict[str, Any] = answer.json()
            return body

    async def faults_injected(self) -> int:
        counts: dict[str, int] = (await self.stats())["faults_injected"]
        return self.faults_before + sum(counts.values())

    async def outage(self, seconds: float) -> None:
        """ResMan away for ``seconds`` (connections refused), then back."""
        self.faults_before = await self.faults_injected()
        assert self.proc is not None
        self.proc.stop()
        await asyncio.sleep(seconds)  # the outage itself, not a wait for a state
        await self.start()

    async def webhooks_pending(self) -> int:
        webhooks: dict[str, int] = (await self.stats())["webhooks"]
        return webhooks.get("pending", 0)


@dataclass
class Service:
    """leadsync itself: `serve` + two `worker` (PostgreSQL) or `up` (SQLite)."""

    procs: Processes
    env: dict[str, str]
    backend: str
    port: int = field(default_factory=free_port)
    api: Proc | None = None
    workers: list[Proc | None] = field(default_factory=lambda: [None, None])
    kills: int = 0
    db_interruptions: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        if self.backend == "sqlite":
            # An integration is configured, so `up` starts no sandbox of its own.
            args = ["up", "--port", str(self.port), "--sandbox-port", str(free_port())]
        else:
            args = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.api = self.procs.leadsync(args[0], *args, env=self.env)
        await wait_http(f"{self.url}/healthz", proc=self.api, within=120)
        if self.backend != "sqlite":
            for slot in range(len(self.workers)):
                self._start_worker(slot)

    def _start_worker(self, slot: int) -> None:
        args = ["worker", "--concurrency", "16"]
        self.workers[slot] = self.procs.leadsync(f"worker{slot}", *args, env=self.env)

    async def kill_one(self, slot: int, *, restart_after: float) -> None:
        """SIGKILL a worker (SQLite: the whole `up`), then start it again."""
        async with self._lock:
            proc = self.api if self.backend == "sqlite" else self.workers[slot]
            assert proc is not None
            proc.popen.send_signal(signal.SIGKILL)
            await asyncio.to_thread(proc.popen.wait)
            self.kills += 1
            await asyncio.sleep(restart_after)  # how long it stays dead: part of the chaos
            if self.backend == "sqlite":
                await self.start()
            else:
                self._start_worker(slot)

    async def interrupt_database(self, *, seconds: float) -> None:
        """This run's own PostgreSQL database away for ``seconds``: new connections refused
        (ALLOW_CONNECTIONS false) and every open one cut, again and again, as during a server
        restart; then back. Only this database is touched, never the shared server."""
        database = make_url(self.env["LEADSYNC_DATABASE_URL"])
        admin = database.set(drivername="postgresql", database="postgres")
        url = admin.render_as_string(hide_password=False)
        name = sql.Identifier(str(database.database))
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(name))
            try:
                while loop.time() < end:
                    conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()",
                        (database.database,),
                    )
                    self.db_interruptions += 1
                    await asyncio.sleep(0.5)
            finally:
                conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(name))

    async def disk_full(self, disk: SmallDisk, *, seconds: float) -> None:
        """up's disk full for ``seconds`` while leads keep coming (not during a kill: a
        restart on a full disk is a different harm)."""
        async with self._lock:
            await disk.full_for(seconds)

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.procs.cli(*args, "--json", env=self.env))

    def queue_stats(self) -> dict[str, int]:
        stats: dict[str, int] = self.cli_json("queue", "stats")
        return stats


def provision(
    procs: Processes,
    *,
    backend: str,
    database_url: str | None,
    sandbox_url: str,
    data_dir: Path | None = None,
) -> stacks.Tenant:
    """An integration with the sandbox's property and an API key, through the CLI; the
    SQLite database in ``data_dir`` when given (a disk the run may fill)."""
    env = stacks.service_env(procs, database_url=database_url, name=backend)
    env.update(SERVICE_ENV)
    if data_dir is not None:
        env["LEADSYNC_DATA_DIR"] = str(data_dir)
        env["LEADSYNC_DATABASE_URL"] = f"sqlite:///{data_dir / 'leadsync.db'}"
    return stacks.provision(procs, env=env, sandbox_url=sandbox_url)


def workdir_log_tails(workdir: Path, lines: int = 15) -> str:
    """The last lines of every process log (shown when a run fails)."""
    parts = []
    for log in sorted(workdir.glob("*.log")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {log.name}\n" + "\n".join(text))
    return "\n".join(parts)
