"""`leadsync doctor`'s mapping check (a sample prospect ResMan -> DomIQ -> ResMan) and its
opt-in `--round-trip` on a test prospect, against the real sandbox on both databases."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, or_, select

from leadsync.db.models import Contact, Conversation, LeadSyncLog, LeadSyncQueue, RetiredProspect
from leadsync.db.session import read_session
from leadsync.mapping.lead import LeadFields
from leadsync.mapping.to_resman import ProspectIds, lead_to_prospect
from leadsync.observability.doctor import Check, run_doctor
from leadsync.observability.doctor_mapping import COMPARED, lost_fields, synthetic_prospect
from leadsync.observability.doctor_round_trip import CLEANUP_COMMENT
from leadsync.resman.models import Prospect
from leadsync.sync.queue.flags import set_push_paused
from stack import Stack, create_synced_lead
from stack_cli import answer, invoke, operator_cli

MAPPING = "mapping validated both ways"
ROUND_TRIP = "bidirectional round trip (test prospect)"


def item(checks: list[Check], name: str, integration: object) -> Check:
    [found] = [c for c in checks if c.item == name and c.integration == str(integration)]
    return found


async def test_the_mapping_is_checked_on_a_real_prospect_or_a_synthetic_one(stack: Stack) -> None:
    _, prospect_id = await create_synced_lead(stack, stack.a)
    checks = await run_doctor(stack.runtime)
    real = item(checks, MAPPING, stack.a.integration_id)
    assert real.passed, real
    assert f"prospect {prospect_id}" in real.detail
    assert f"all {len(COMPARED)} synced fields survive" in real.detail
    # Tenant b's ResMan property has no prospect: a synthetic one is checked instead.
    empty = item(checks, MAPPING, stack.b.integration_id)
    assert empty.passed, empty
    assert "synthetic prospect" in empty.detail


def test_fields_that_do_not_survive_are_named_and_fail() -> None:
    def drops_occupants(fields: LeadFields, ids: ProspectIds | None) -> Prospect:
        return lead_to_prospect(replace(fields, occupants=None), ids=ids)

    sample = synthetic_prospect()
    assert lost_fields(sample) == []
    assert lost_fields(sample, to_resman=drops_occupants) == ["occupants"]


async def test_round_trip_pushes_changes_pulls_back_and_cleans_up(stack: Stack) -> None:
    before = await stack.resman_prospects(stack.a)
    checks = await run_doctor(stack.runtime, integration_id=stack.a.integration_id, round_trip=True)
    trip = item(checks, ROUND_TRIP, stack.a.integration_id)
    assert trip.passed, trip
    assert "pushed, changed in ResMan, pulled back; cleaned up" in trip.detail

    # ResMan keeps the prospect (it has no delete), marked lost with our comment.
    [left] = [p for p in await stack.resman_prospects(stack.a) if p not in before]
    assert left["status"] == "lost"
    assert str(left["last_name"]).startswith("DoctorTest ")
    mits = left["prospect"]
    assert isinstance(mits, dict)
    events = mits["events"]
    assert [e["event_type"] for e in events] == ["Contact", "Appointment", "Cancel"]
    assert events[-1]["comments"] == CLEANUP_COMMENT
    # Our side holds nothing of it, and pulls do not bring it back as a walk-in.
    await stack.runtime.scheduler.pull_now(integration_id=stack.a.integration_id)
    async with read_session(stack.runtime.sessionmaker) as session:
        for model in (Conversation, Contact, LeadSyncQueue):
            assert await session.scalar(select(func.count()).select_from(model)) == 0, model
        # Only the pulls' own summary rows remain in the sync log (no lead in them).
        lead_logs = select(func.count()).where(
            or_(
                LeadSyncLog.conversation_id.is_not(None),
                LeadSyncLog.resman_lead_id == left["prospect_id"],
            )
        )
        assert await session.scalar(lead_logs) == 0
        retired = await session.scalar(select(RetiredProspect.resman_prospect_id))
    assert retired == left["prospect_id"]


async def test_round_trip_refuses_while_pushes_are_paused(stack: Stack) -> None:
    async with stack.runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=True, changed_by="test")
    checks = await run_doctor(stack.runtime, integration_id=stack.a.integration_id, round_trip=True)
    trip = item(checks, ROUND_TRIP, stack.a.integration_id)
    assert not trip.passed
    assert "paused" in trip.detail
    assert trip.fix is not None
    assert await stack.resman_prospects(stack.a) == []


async def test_doctor_command_runs_the_new_items(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = operator_cli(stack, monkeypatch)
    ref = str(stack.a.integration_id)
    # Exit 1: no alert route is configured on the stack (a deployment item fails).
    checks = answer(
        await invoke(cli, "doctor", "--integration", ref, "--round-trip", "--json"), exit_code=1
    )
    mine = {c["item"]: c for c in checks if c["integration"] == ref}
    assert mine[MAPPING]["passed"], mine[MAPPING]
    assert mine[ROUND_TRIP]["passed"], mine[ROUND_TRIP]
    without = answer(await invoke(cli, "doctor", "--integration", ref, "--json"), exit_code=1)
    assert ROUND_TRIP not in {c["item"] for c in without}, "the round trip is opt-in"
