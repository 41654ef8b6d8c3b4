"""`leadsync conflicts` on a real database: list, show, resolve, and refusals."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from factories import make_conversation, make_integration, make_property
from leadsync.cli import app
from leadsync.config import get_settings
from leadsync.db.engine import create_engine_for, create_sessionmaker
from leadsync.db.migrate import upgrade
from leadsync.db.models import Conversation, LeadLink, LeadSyncQueue, SyncConflict


async def _seed(url: str) -> tuple[uuid.UUID, uuid.UUID]:
    engine = create_engine_for(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            prop = await make_property(session)
            integration = await make_integration(session, property_id=prop.id)
            conv = await make_conversation(session, property_id=prop.id)
            conv.phone = "+17375551111"
            session.add(
                LeadLink(
                    conversation_id=conv.id,
                    integration_id=integration.id,
                    resman_prospect_id="P-1",
                    base={"phone": "+15125550199"},
                )
            )
            conflict = SyncConflict(
                conversation_id=conv.id,
                integration_id=integration.id,
                field="phone",
                base_value="+15125550199",
                domiq_value="+17375551111",
                resman_value="+15125552222",
            )
            session.add(conflict)
            await session.flush()
            return conflict.id, conv.id
    finally:
        await engine.dispose()


async def _state(url: str, conv_id: uuid.UUID) -> tuple[str | None, int]:
    engine = create_engine_for(url)
    try:
        async with create_sessionmaker(engine)() as session:
            conv = await session.get(Conversation, conv_id)
            jobs = await session.scalar(select(func.count()).select_from(LeadSyncQueue))
            return (conv.phone if conv else None), int(jobs or 0)
    finally:
        await engine.dispose()


@pytest.fixture
def seeded(db_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, uuid.UUID, uuid.UUID]:
    monkeypatch.setenv("LEADSYNC_DATABASE_URL", db_url)
    get_settings.cache_clear()
    upgrade(url=db_url)
    conflict_id, conv_id = asyncio.run(_seed(db_url))
    return db_url, conflict_id, conv_id


def _json(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_show_and_resolve(seeded: tuple[str, uuid.UUID, uuid.UUID]) -> None:
    url, conflict_id, conv_id = seeded
    [listed] = _json("conflicts", "list")
    assert listed["id"] == str(conflict_id)
    shown = _json("conflicts", "show", str(conflict_id))
    assert (shown["base_value"], shown["domiq_value"], shown["resman_value"]) == (
        "+15125550199",
        "+17375551111",
        "+15125552222",
    )
    resolved = _json("conflicts", "resolve", str(conflict_id), "--pick", "resman", "--by", "ana")
    assert resolved["status"] == "resolved"
    assert resolved["resolved_value"] == "+15125552222"
    phone, jobs = asyncio.run(_state(url, conv_id))
    # ResMan's value was picked: DomIQ takes it, and ResMan needs no push.
    assert (phone, jobs) == ("+15125552222", 0)
    assert _json("conflicts", "list") == []


def test_resolving_with_a_value_queues_a_push(seeded: tuple[str, uuid.UUID, uuid.UUID]) -> None:
    url, conflict_id, conv_id = seeded
    _json("conflicts", "resolve", str(conflict_id), "--value", "(737) 555-0000")
    phone, jobs = asyncio.run(_state(url, conv_id))
    assert (phone, jobs) == ("+17375550000", 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["resolve", "not-a-uuid", "--pick", "resman"], "conflict id"),
        (["resolve", str(uuid.UUID(int=1)), "--pick", "resman"], "no conflict"),
        (["resolve", "{id}"], "exactly one of --pick or --value"),
        (["resolve", "{id}", "--pick", "office"], "pick must be"),
        # Checked like the lead API: a value ResMan cannot hold is refused, nothing written.
        (["resolve", "{id}", "--value", "555"], "invalid value for phone"),
        (["resolve", "{id}", "--value", "call me"], "not a valid phone number"),
    ],
)
def test_refusals_exit_1_with_one_line(
    seeded: tuple[str, uuid.UUID, uuid.UUID], args: list[str], message: str
) -> None:
    _, conflict_id, _ = seeded
    argv = ["conflicts", *(a.replace("{id}", str(conflict_id)) for a in args)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    [still_open] = _json("conflicts", "list")
    assert still_open["id"] == str(conflict_id)
