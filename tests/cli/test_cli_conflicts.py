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


async def _seed_duplicate(url: str, conv_id: uuid.UUID) -> uuid.UUID:
    engine = create_engine_for(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            conv = await session.get(Conversation, conv_id)
            assert conv is not None
            conflict = SyncConflict(
                conversation_id=conv.id,
                integration_id=None,
                field="duplicate_lead",
                conflict_type="duplicate_lead",
                other_prospect_id="P-2",
                domiq_value={
                    "resman_prospect_id": "P-1",
                    "first_name": "Aisha",
                    "last_name": "Khan",
                },
                resman_value={"resman_prospect_id": "P-2", "first_name": "Maria"},
            )
            session.add(conflict)
            await session.flush()
            return conflict.id
    finally:
        await engine.dispose()


def test_a_possible_duplicate_is_listed_side_by_side_and_dismissed(
    seeded: tuple[str, uuid.UUID, uuid.UUID],
) -> None:
    url, _, conv_id = seeded
    duplicate_id = asyncio.run(_seed_duplicate(url, conv_id))
    listed = CliRunner().invoke(app, ["conflicts", "list"])
    assert listed.exit_code == 0, listed.output
    line = next(row for row in listed.stdout.splitlines() if row.startswith(str(duplicate_id)))
    assert "possible duplicate: prospect P-1 (Aisha Khan)" in line
    assert "prospect P-2 (Maria)" in line
    refused = CliRunner().invoke(
        app, ["conflicts", "resolve", str(duplicate_id), "--pick", "resman"]
    )
    assert refused.exit_code == 1
    assert "merge API or dismissed" in refused.stderr

    dismissed = _json("conflicts", "dismiss", str(duplicate_id), "--by", "ana")
    assert (dismissed["status"], dismissed["resolved_by"]) == ("dismissed", "ana")
    assert [c["id"] for c in _json("conflicts", "list", "--status", "dismissed")] == [
        str(duplicate_id)
    ]
    again = CliRunner().invoke(app, ["conflicts", "dismiss", str(duplicate_id)])
    assert again.exit_code == 1
    assert "already dismissed" in again.stderr
    # Nothing changed on either side: no push queued, the lead kept its phone.
    assert asyncio.run(_state(url, conv_id)) == ("+17375551111", 0)
