"""A real sandbox on 127.0.0.1 (free port) per test, and a plain httpx2 client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from leadsync.sandbox import SandboxConfig, SandboxServer, create_sandbox_app


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Override in a test module (or parametrize) to start the sandbox differently."""
    return SandboxConfig(webhook_backoff_seconds=0.05)


@pytest.fixture
async def sandbox_url(sandbox_config: SandboxConfig) -> AsyncIterator[str]:
    async with SandboxServer(create_sandbox_app(sandbox_config)) as server:
        yield server.base_url


@pytest.fixture
async def http(sandbox_url: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=sandbox_url, timeout=10.0) as client:
        yield client
