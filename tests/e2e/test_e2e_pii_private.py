"""Personal data stays private: a lead with known PII goes through failing flows (ResMan
faults, a validation refusal, a bug whose exception quotes SQL parameters), then every
output is searched for it: the log lines, the DB error columns, the API and the CLI."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from leadsync.cli import app as cli_app
from leadsync.config import get_settings
from leadsync.db.models import LeadSyncLog, LeadSyncQueue
from leadsync.security.crypto import generate_key
from leadsync.telemetry.logging import configure_logging
from stack import Stack, lead_body, wait_until

FIRST, LAST = "Zephyrine", "Quillfeather"
EMAIL = "zephyrine.quill@example.org"
PHONE_DIGITS = "7375550142"
SECRETS = (FIRST, LAST, EMAIL, "555-0142", PHONE_DIGITS)


def _lead(stack: Stack, n: int) -> dict[str, Any]:
    body = lead_body(stack.a.property_id, n=n)
    body["lead_data"].update(
        first_name=FIRST,
        last_name=f"{LAST}{n}",
        email=f"{n}{EMAIL}",
        phone=f"(737) 555-0{142 + n:03d}" if n else "(737) 555-0142",
    )
    return body


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s.lower() in text.lower()]


async def _dead(stack: Stack, n: int) -> None:
    async def check() -> bool:
        async with stack.runtime.sessionmaker() as session:
            rows = (await session.scalars(select(LeadSyncQueue))).all()
        return len(rows) == n and all(r.state == "dead" for r in rows)

    await wait_until(check, within=90)


async def test_known_pii_appears_in_no_output(
    stack: Stack,
    migrated_db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(level="DEBUG", fmt="json")
    try:
        # 1. ResMan refuses the lead and echoes it back in its description.
        await stack.set_faults(
            business_error_rate=1.0,
            business_error_message=f"Email {EMAIL} is invalid for (737) 555-0142",
            methods=["MITS/PostLeadManagement4_0"],
        )
        created = await stack.api.post(
            "/api/resman/leads", json=_lead(stack, 0), headers=stack.auth(stack.a)
        )
        assert created.status_code == 201
        await _dead(stack, 1)
        # 2. A bug whose exception quotes the SQL parameters (the IntegrityError of issue 8).
        await stack.set_faults(http_error_rate=0.3, seed=3)

        async def bug(*_: Any, **__: Any) -> Any:
            params = (FIRST, LAST, EMAIL, PHONE_DIGITS)
            raise IntegrityError("INSERT INTO lead_link ...", params, Exception("UNIQUE"))

        monkeypatch.setattr("leadsync.sync.runner.plan_push", bug)
        for n in (1, 2):
            response = await stack.api.post(
                "/api/resman/leads", json=_lead(stack, n), headers=stack.auth(stack.a)
            )
            assert response.status_code == 201
        await _dead(stack, 3)
        dead_letters = await stack.api.get(
            "/api/resman/queue/dead-letters", headers=stack.auth(stack.a)
        )
        assert dead_letters.status_code == 200
        assert len(dead_letters.json()["dead_letters"]) == 3
        async with stack.runtime.sessionmaker() as session:
            queue_errors = (await session.scalars(select(LeadSyncQueue.last_error))).all()
            log_rows = (await session.execute(select(LeadSyncLog))).scalars().all()
        monkeypatch.setenv("LEADSYNC_DATABASE_URL", migrated_db_url)
        monkeypatch.setenv("LEADSYNC_ENCRYPTION_KEYS", generate_key())
        get_settings.cache_clear()
        try:
            listed = await asyncio.to_thread(
                CliRunner().invoke, cli_app, ["queue", "list", "--state", "dead"]
            )
        finally:
            get_settings.cache_clear()
        logs = capsys.readouterr().err
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()

    assert listed.exit_code == 0, listed.output
    assert "internal" in listed.stdout
    assert "error id" in listed.stdout
    db_text = json.dumps(
        [queue_errors, [(r.error_message, r.details) for r in log_rows]], default=str
    )
    assert "[internal]" in db_text
    assert "job failed on an internal error" in logs, "the bug and its traceback are logged"
    assert "IntegrityError" in logs
    assert [line for line in logs.splitlines() if _leaks(line)] == []
    assert _leaks(db_text) == []
    assert _leaks(dead_letters.text) == []
    assert _leaks(listed.stdout + listed.stderr) == []
