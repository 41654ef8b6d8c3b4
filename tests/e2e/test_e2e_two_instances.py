"""Two API instances, two real processes (uvicorn serving `leadsync serve`'s app), one
PostgreSQL database: a lead change entering either instance reaches a WebSocket client
connected to the other one, woken by LISTEN/NOTIFY. The hubs' safety-net poll is an hour
(e2e_instance_app.py), so nothing but the notification can carry the event across in time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect

from leadsync.config import Settings
from leadsync.runtime import Runtime
from leadsync.sandbox.app import create_sandbox_app
from leadsync.sandbox.server import SandboxServer
from leadsync.security.crypto import generate_key
from stack import PATIENCE, add_sandbox_tenant, lead_body

pytestmark = pytest.mark.parametrize(
    "migrated_db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

HERE = Path(__file__).parent
WS_PATH = "/api/resman/sync/websocket"
# Deadlines for states (a process answering, an event arriving), generous for a loaded box.
START_TIMEOUT = PATIENCE
EVENT_TIMEOUT = PATIENCE


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Instance:
    name: str
    process: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, *, property_id: uuid.UUID, token: str) -> str:
        return f"ws://127.0.0.1:{self.port}{WS_PATH}?property_id={property_id}&token={token}"

    async def wait_ready(self) -> None:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        async with httpx2.AsyncClient(base_url=self.url, timeout=10) as client:
            while True:
                if self.process.returncode is not None:
                    raise AssertionError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
                with contextlib.suppress(httpx2.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(
                        f"{self.name} did not start: {self.log.read_text()[-2000:]}"
                    )
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=60)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_instance(name: str, *, env: dict[str, str], log_dir: Path) -> Instance:
    port = free_port()
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "e2e_instance_app:create",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            env=env,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    return Instance(name, process, port, log)


@dataclass
class Cluster:
    a: Instance
    b: Instance
    property_id: uuid.UUID
    api_key: str


@pytest.fixture
async def cluster(migrated_db_url: str, data_dir: Path, tmp_path: Path) -> AsyncIterator[Cluster]:
    encryption_key = generate_key()
    settings = Settings(
        database_url=migrated_db_url,
        data_dir=data_dir,
        encryption_keys=SecretStr(encryption_key),
    )
    async with SandboxServer(create_sandbox_app()) as sandbox:
        runtime = Runtime.build(settings)
        try:
            async with runtime.sessionmaker() as session, session.begin():
                property_id, api_key = await add_sandbox_tenant(
                    session,
                    keys=runtime.keys,
                    sandbox_url=sandbox.base_url,
                    key_name="two-instances",
                )
        finally:
            await runtime.close()
        env = {
            **os.environ,
            "LEADSYNC_DATABASE_URL": migrated_db_url,
            "LEADSYNC_ENCRYPTION_KEYS": encryption_key,
            "LEADSYNC_DATA_DIR": str(data_dir),
            "LEADSYNC_LOG_FORMAT": "json",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        }
        instances: list[Instance] = []
        try:
            for name in ("a", "b"):
                instances.append(await start_instance(name, env=env, log_dir=tmp_path))
            for instance in instances:
                await instance.wait_ready()
            yield Cluster(instances[0], instances[1], property_id, api_key)
        finally:
            for instance in instances:
                await instance.stop()


async def subscribe(instance: Instance, cluster: Cluster) -> ClientConnection:
    client = await connect(instance.ws_url(property_id=cluster.property_id, token=cluster.api_key))
    first = json.loads(await asyncio.wait_for(client.recv(), timeout=EVENT_TIMEOUT))
    assert first["type"] == "subscribed", first
    return client


async def next_lead_event(client: ClientConnection, conversation_id: str) -> dict[str, Any]:
    """The first event about ``conversation_id`` (heartbeats and others are skipped)."""

    async def read() -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await client.recv())
            if message.get("data", {}).get("conversation_id") == conversation_id:
                return message

    return await asyncio.wait_for(read(), timeout=EVENT_TIMEOUT)


async def post_lead(instance: Instance, cluster: Cluster) -> str:
    async with httpx2.AsyncClient(base_url=instance.url, timeout=PATIENCE) as api:
        created = await api.post(
            "/api/resman/leads",
            json=lead_body(cluster.property_id),
            headers={"Authorization": f"Bearer {cluster.api_key}"},
        )
    assert created.status_code == 201, created.text
    return str(created.json()["conversation_id"])


async def test_a_change_entering_either_instance_reaches_clients_on_both(
    cluster: Cluster,
) -> None:
    on_a = await subscribe(cluster.a, cluster)
    on_b = await subscribe(cluster.b, cluster)
    try:
        for entry in (cluster.a, cluster.b):
            conversation_id = await post_lead(entry, cluster)
            seen_on_a = await next_lead_event(on_a, conversation_id)
            seen_on_b = await next_lead_event(on_b, conversation_id)
            assert seen_on_a["type"] == seen_on_b["type"] == "new_lead"
            assert seen_on_a["sequence"] == seen_on_b["sequence"]
            assert seen_on_b["property_id"] == str(cluster.property_id)
    finally:
        await on_a.close()
        await on_b.close()
