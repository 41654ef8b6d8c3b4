"""The real app with one extra route that raises a given error, served on a free loopback
port: what a client gets back, and what was logged meanwhile."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx2
from pydantic import SecretStr
from structlog.testing import capture_logs

from leadsync.app import create_app
from leadsync.config import Settings
from leadsync.runtime import Runtime
from leadsync.sandbox.server import SandboxServer
from leadsync.security.crypto import generate_key


async def answer_to(
    error: Exception, *, path: str, database_url: str, data_dir: Path
) -> tuple[httpx2.Response, list[MutableMapping[str, Any]]]:
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        encryption_keys=SecretStr(generate_key()),
    )
    runtime = Runtime.build(settings)
    app = create_app(settings, runtime=runtime)

    async def fail() -> None:
        raise error

    app.add_api_route(path, fail, methods=["GET"])
    try:
        with capture_logs() as logs:
            async with (
                SandboxServer(app) as server,
                httpx2.AsyncClient(base_url=server.base_url, timeout=30) as http,
            ):
                response = await http.get(path)
    finally:
        await runtime.close()
    return response, logs
