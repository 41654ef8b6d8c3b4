"""The operator's `leadsync` commands against a running end-to-end stack: the same database
and encryption key as the stack's runtime, each command on a thread of its own (it runs its
own event loop, which must stay off the test's)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from leadsync.cli.integration import integration_app
from leadsync.cli.observability import doctor
from leadsync.config import get_settings
from stack import Stack


def operator_cli(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    settings = stack.runtime.settings
    assert settings.database_url is not None
    assert settings.encryption_keys is not None
    monkeypatch.setenv("LEADSYNC_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LEADSYNC_ENCRYPTION_KEYS", settings.encryption_keys.get_secret_value())
    get_settings.cache_clear()
    return CliRunner()


def _commands() -> typer.Typer:
    # Not leadsync.cli.main's app: its callback reconfigures logging for the whole process.
    app = typer.Typer()
    app.add_typer(integration_app, name="integration")
    app.command("doctor")(doctor)
    return app


async def invoke(cli: CliRunner, *args: str) -> Result:
    """``leadsync <args>`` for the integration and doctor commands."""
    return await asyncio.to_thread(cli.invoke, _commands(), list(args))


def answer(result: Result, *, exit_code: int = 0) -> Any:
    """The command's JSON document (the stack's log lines share stdout in this process)."""
    assert result.exit_code == exit_code, result.output
    text = result.stdout
    start = (
        0
        if text.startswith(("{", "["))
        else min(i + 1 for i in (text.find("\n{"), text.find("\n[")) if i >= 0)
    )
    return json.loads(text[start:])
