"""The database away under a request (a restart, a cut connection) is a clean 503
problem+json with Retry-After, never a 500 (found by tests/chaos); any other database error
stays a 500 with a correlation id (test_e2e_problem_500.py)."""

from __future__ import annotations

from pathlib import Path

import httpx2
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from leadsync.app import create_app
from leadsync.config import Settings
from leadsync.runtime import Runtime
from leadsync.sandbox.server import SandboxServer
from leadsync.security.crypto import generate_key

PII = {"email": "maria.gomez@gmail.com"}


async def test_a_lost_database_connection_is_a_503_problem(
    migrated_db_url: str, data_dir: Path
) -> None:
    settings = Settings(
        database_url=migrated_db_url,
        data_dir=data_dir,
        encryption_keys=SecretStr(generate_key()),
    )
    runtime = Runtime.build(settings)
    app = create_app(settings, runtime=runtime)

    @app.get("/gone")
    async def gone() -> None:
        raise OperationalError(
            "SELECT ... FROM contact", PII, Exception("terminating connection due to admin")
        )

    try:
        async with (
            SandboxServer(app) as server,
            httpx2.AsyncClient(base_url=server.base_url, timeout=30) as http,
        ):
            response = await http.get("/gone")
    finally:
        await runtime.close()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert (body["status"], body["title"], body["instance"]) == (
        503,
        "Database unavailable",
        "/gone",
    )
    assert "gmail" not in response.text
