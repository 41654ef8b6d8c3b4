"""`leadsync serve` + two `leadsync worker`s, real processes on one PostgreSQL, sharing one
PROMETHEUS_MULTIPROC_DIR: the API's /metrics reports the totals of the work the workers did
(the API process itself made no ResMan call), equal to what the sandbox counted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from leadsync.config import Settings
from leadsync.runtime import Runtime
from leadsync.sandbox.app import create_sandbox_app
from leadsync.sandbox.server import SandboxServer
from leadsync.security.crypto import generate_key
from leadsync.sync.queue.flags import set_push_paused
from stack import PATIENCE, add_sandbox_tenant, lead_body, wait_until

pytestmark = pytest.mark.parametrize(
    "migrated_db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

LEADS = 12
CLI = "from leadsync.cli import main; main()"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def processes(
    commands: list[list[str]], *, env: dict[str, str], logs: Path
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    started: list[asyncio.subprocess.Process] = []
    try:
        for n, args in enumerate(commands):
            with (logs / f"process-{n}.log").open("wb") as out:
                started.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable, "-c", CLI, *args, env=env, stdout=out, stderr=out
                    )
                )
        yield started
    finally:
        for process in started:
            if process.returncode is None:
                process.terminate()
        for process in started:
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()


def _sum(text: str, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and wanted <= set(sample.labels.items())
    )


async def test_serve_reports_the_totals_of_every_worker_process(
    migrated_db_url: str, data_dir: Path, tmp_path: Path
) -> None:
    key = generate_key()
    settings = Settings(
        database_url=migrated_db_url, data_dir=data_dir, encryption_keys=SecretStr(key)
    )
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    async with SandboxServer(create_sandbox_app()) as sandbox:
        runtime = Runtime.build(settings)
        try:
            async with runtime.sessionmaker() as session, session.begin():
                property_id, api_key = await add_sandbox_tenant(
                    session, keys=runtime.keys, sandbox_url=sandbox.base_url, key_name="mp"
                )
                # Paused: the API makes no inline attempt, so only the workers call ResMan.
                await set_push_paused(session, paused=True, changed_by="test")
            port = _port()
            env = {
                **os.environ,
                "PROMETHEUS_MULTIPROC_DIR": str(prom_dir),
                "LEADSYNC_DATABASE_URL": migrated_db_url,
                "LEADSYNC_ENCRYPTION_KEYS": key,
                "LEADSYNC_DATA_DIR": str(data_dir),
                "LEADSYNC_LOG_FORMAT": "json",
            }
            commands = [
                ["serve", "--host", "127.0.0.1", "--port", str(port)],
                ["worker", "--no-scheduler", "--concurrency", "2"],
                ["worker", "--no-scheduler", "--concurrency", "2"],
            ]
            async with (
                processes(commands, env=env, logs=tmp_path),
                httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=PATIENCE) as api,
                httpx2.AsyncClient(base_url=sandbox.base_url, timeout=PATIENCE) as admin,
            ):

                async def up() -> bool:
                    with contextlib.suppress(httpx2.TransportError):
                        return (await api.get("/healthz")).status_code == 200
                    return False

                await wait_until(up)
                auth = {"Authorization": f"Bearer {api_key}"}
                for n in range(LEADS):
                    response = await api.post(
                        "/api/resman/leads", json=lead_body(property_id, n=n), headers=auth
                    )
                    assert response.json()["sync_status"] == "pending"
                async with runtime.sessionmaker() as session, session.begin():
                    await set_push_paused(session, paused=False, changed_by="test")

                async def all_synced() -> bool:
                    text = (await api.get("/metrics")).text
                    return _sum(text, "leadsync_queue_depth", state="succeeded") == LEADS

                await wait_until(all_synced)
                text = (await api.get("/metrics")).text
                stats = (await admin.get("/admin/stats")).json()
        finally:
            await runtime.close()
    assert _sum(text, "leadsync_sync_outcomes_total", outcome="success") == LEADS
    assert _sum(text, "leadsync_sync_latency_seconds_count", path="worker") == LEADS
    assert _sum(text, "leadsync_sync_latency_seconds_count", path="inline") == 0
    calls = sum(stats["requests"].values())
    assert calls > 0
    assert _sum(text, "leadsync_resman_request_duration_seconds_count") == calls
