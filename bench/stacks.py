"""The systems under test, started as real processes on 127.0.0.1: `leadsync up` (with its
bundled sandbox, or against the sandbox in a process of its own), the sandbox alone,
`leadsync serve` / `worker` over SQLite or PostgreSQL, and a database of its own per run on
PostgreSQL (created, then dropped)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from bench.core import Proc, Processes, free_port, wait_http
from leadsync.embedded import DEMO_KEY_FILE, DEMO_PROPERTY_ID
from leadsync.resman.credentials import ResManCredentials
from leadsync.sandbox.admin_client import open_admin
from leadsync.sandbox.seed import (
    SANDBOX_ACCOUNT_ID,
    SANDBOX_API_KEY,
    SANDBOX_PARTNER_ID,
    SANDBOX_PROPERTY_ID,
)

__all__ = ["SANDBOX_CREDS", "SANDBOX_PROPERTY_ID", "Tenant"]

SANDBOX_CREDS = ResManCredentials(
    partner_id=SANDBOX_PARTNER_ID,
    api_key=SANDBOX_API_KEY,
    account_id=SANDBOX_ACCOUNT_ID,
    property_id=SANDBOX_PROPERTY_ID,
)


@dataclass
class Tenant:
    api_url: str
    sandbox_url: str
    api_key: str
    property_id: uuid.UUID
    integration_id: uuid.UUID
    webhook_secret: str
    procs: list[Proc]
    #: The environment of its CLI commands (data folder, database, keys).
    env: dict[str, str]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def webhook_url(self) -> str:
        """The receiver of ResMan's signed lead-update webhooks for this integration."""
        return f"{self.api_url}/api/resman/webhooks/lead-update?integration={self.integration_id}"


def new_secret() -> str:
    return f"whsec_{base64.b64encode(os.urandom(24)).decode()}"


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database on the server of ``admin_url``, dropped afterwards; its URL."""
    name = f"leadsync_bench_{uuid.uuid4().hex[:10]}"
    plain = make_url(admin_url).set(drivername="postgresql")
    with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield plain.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def start_up(
    procs: Processes,
    *,
    name: str,
    env: dict[str, str] | None = None,
    external_sandbox: bool = False,
) -> Tenant:
    """`leadsync up` (API + worker + SQLite) in a data folder of its own; ``env`` adds
    settings (``LEADSYNC_*``) for the process and its CLI commands.

    By default with its bundled sandbox (in up's own process and event loop: the product's
    default start). ``external_sandbox``: against a `leadsync sandbox` in a process of its
    own, as ResMan is a remote server in production, so up's process pays only for its
    own work; see :func:`start_up_external`."""
    if external_sandbox:
        return await start_up_external(procs, name=name, env=env)
    data_dir = procs.workdir / f"{name}-{uuid.uuid4().hex[:6]}"
    env = {**(env or {}), "LEADSYNC_DATA_DIR": str(data_dir)}
    sandbox_port = free_port()
    api_url, proc = await _launch_up(procs, name=name, env=env, sandbox_port=sandbox_port)
    listed = json.loads(procs.cli("integration", "list", "--json", env=env))
    demo = next(i for i in listed if i["property_id"] == str(DEMO_PROPERTY_ID))
    return Tenant(
        api_url=api_url,
        sandbox_url=f"http://127.0.0.1:{sandbox_port}",
        api_key=(data_dir / DEMO_KEY_FILE).read_text().strip(),
        property_id=DEMO_PROPERTY_ID,
        integration_id=uuid.UUID(demo["id"]),
        webhook_secret="",  # `up` wires the sandbox's webhooks itself
        procs=[proc],
        env=env,
    )


async def start_up_external(
    procs: Processes, *, name: str, env: dict[str, str] | None = None
) -> Tenant:
    """`leadsync up` against `leadsync sandbox` in its own process (state in a SQLite file,
    like the bundled one's): an integration and an API key provisioned in up's data folder
    first (so `up` starts no sandbox of its own), then the sandbox's staff-action webhooks
    pointed at up's receiver, signed with the integration's secret (what `up` does for its
    bundled sandbox), after the initial `sync pull`. ``stop(tenant)`` stops `up`, then the
    sandbox."""
    state_file = procs.workdir / f"{name}-sandbox-{uuid.uuid4().hex[:6]}.db"
    sandbox_url, sandbox = await start_sandbox(procs, name=f"{name}-sandbox", state_file=state_file)
    tenant_env = {**service_env(procs, database_url=None, name=name), **(env or {})}
    tenant = provision(procs, env=tenant_env, sandbox_url=sandbox_url)
    tenant.procs.append(sandbox)
    # The initial pull, as when a property is connected: without it `up`'s first poll would
    # import the sandbox's seeded prospects in the middle of the measurement.
    procs.cli("sync", "pull", "--integration", str(tenant.integration_id), env=tenant_env)
    tenant.api_url, proc = await _launch_up(
        procs, name=name, env=tenant_env, sandbox_port=free_port()
    )
    tenant.procs.append(proc)
    async with open_admin(sandbox_url) as admin:
        await admin.set_webhook(url=tenant.webhook_url, secret=tenant.webhook_secret)
    return tenant


async def _launch_up(
    procs: Processes, *, name: str, env: dict[str, str], sandbox_port: int
) -> tuple[str, Proc]:
    """`leadsync up` on a free port, answering /healthz; its URL and process."""
    port = free_port()
    proc = procs.leadsync(
        name, "up", "--port", str(port), "--sandbox-port", str(sandbox_port), env=env
    )
    api_url = f"http://127.0.0.1:{port}"
    await wait_http(f"{api_url}/healthz", proc=proc, within=120)
    return api_url, proc


@contextlib.asynccontextmanager
async def own_sandbox(procs: Processes, *, name: str) -> AsyncIterator[str]:
    """A sandbox process of its own (state in a SQLite file, like the subject's), for a
    baseline: the direct creates must not land in the property leadsync syncs, or its poller
    would import them as office leads in the middle of the measurement. Its URL."""
    state_file = procs.workdir / f"{name}-{uuid.uuid4().hex[:6]}.db"
    url, proc = await start_sandbox(procs, name=name, state_file=state_file)
    try:
        yield url
    finally:
        proc.stop()


async def start_sandbox(
    procs: Processes, *, name: str = "sandbox", state_file: Path | None = None
) -> tuple[str, Proc]:
    """`leadsync sandbox` on a free port (in memory, or keeping its state in ``state_file``)."""
    port = free_port()
    state = ["--state-file", str(state_file)] if state_file is not None else []
    proc = procs.leadsync(name, "sandbox", "--port", str(port), *state)
    url = f"http://127.0.0.1:{port}"
    await wait_http(f"{url}/admin/health", proc=proc)
    return url, proc


def service_env(procs: Processes, *, database_url: str | None, name: str) -> dict[str, str]:
    data_dir = procs.workdir / f"{name}-{uuid.uuid4().hex[:6]}"
    data_dir.mkdir(mode=0o700)
    url = database_url or f"sqlite:///{data_dir / 'leadsync.db'}"
    return {
        "LEADSYNC_DATA_DIR": str(data_dir),
        "LEADSYNC_DATABASE_URL": url,
        "LEADSYNC_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def provision(procs: Processes, *, env: dict[str, str], sandbox_url: str) -> Tenant:
    """An integration with the sandbox's property and an API key, through the CLI."""
    secret = new_secret()
    added = json.loads(
        procs.cli(
            "integration", "add", "--json",
            "--account-id", str(SANDBOX_ACCOUNT_ID),
            "--resman-property-id", SANDBOX_PROPERTY_ID,
            "--partner-id", SANDBOX_PARTNER_ID,
            "--api-key", SANDBOX_API_KEY,
            "--base-url", sandbox_url,
            "--webhook-secret", secret,
            env=env,
        )
    )  # fmt: skip
    key = json.loads(
        procs.cli(
            "apikey", "create", "--json", "--name", "bench", "--property", added["property_id"],
            env=env,
        )
    )  # fmt: skip
    return Tenant(
        api_url="",
        sandbox_url=sandbox_url,
        api_key=key["key"],
        property_id=uuid.UUID(added["property_id"]),
        integration_id=uuid.UUID(added["id"]),
        webhook_secret=secret,
        procs=[],
        env=env,
    )


async def start_service(
    procs: Processes,
    *,
    env: dict[str, str],
    tenant: Tenant,
    name: str,
    worker: bool,
    worker_concurrency: int = 64,
) -> Tenant:
    """`leadsync serve` (and a separate `leadsync worker`) for a provisioned ``tenant``."""
    port = free_port()
    api = procs.leadsync(name, "serve", "--host", "127.0.0.1", "--port", str(port), env=env)
    tenant.api_url = f"http://127.0.0.1:{port}"
    tenant.procs.append(api)
    await wait_http(f"{tenant.api_url}/healthz", proc=api)
    if worker:
        tenant.procs.append(
            procs.leadsync(
                f"{name}-worker", "worker", "--concurrency", str(worker_concurrency), env=env
            )
        )
    return tenant


def stop(tenant: Tenant) -> None:
    for proc in reversed(tenant.procs):
        proc.stop()
