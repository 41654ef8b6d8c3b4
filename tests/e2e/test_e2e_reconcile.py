"""The reconciliation job against the real sandbox: an office change that never reached us
and a lead lost to a dead letter are found, reported without touching anything, then healed
with repair (through the merge engine and a replayed push)."""

from __future__ import annotations

import asyncio
import uuid

from prometheus_client import REGISTRY
from sqlalchemy import select

from leadsync.db.models import Conversation
from leadsync.observability.consistency import reconcile, reconcile_forever
from stack import Stack, lead_body, wait_until


def _drift_total(check: str) -> float:
    value = REGISTRY.get_sample_value("leadsync_consistency_drift_total", {"check": check})
    return value or 0.0


async def _status(stack: Stack, conversation_id: str) -> str:
    async with stack.runtime.sessionmaker() as session:
        status = await session.scalar(
            select(Conversation.status).where(Conversation.id == uuid.UUID(conversation_id))
        )
    assert status is not None
    return status


async def test_an_office_change_that_never_arrived_is_found_then_merged(stack: Stack) -> None:
    created = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id), headers=stack.auth(stack.a)
    )
    conversation_id = created.json()["conversation_id"]

    async def linked() -> bool:
        return len(await stack.resman_prospects(stack.a)) == 1

    await wait_until(linked, within=60)
    clean = await reconcile(stack.runtime, integration_id=stack.a.integration_id)
    assert clean.drift == []
    assert clean.leads_checked == 1

    # The office takes an application; no webhook, feed or poll brings it to us.
    [prospect] = await stack.resman_prospects(stack.a)
    prospect_id = str(prospect["prospect_id"])
    url = f"/admin/properties/{stack.a.resman_property_id}/prospects/{prospect_id}/status"
    staff = await stack.sandbox.post(
        url, json={"customer_type": "applicant", "event_type": "Application"}
    )
    staff.raise_for_status()
    before = _drift_total("fields_disagree")
    found = await reconcile(stack.runtime, integration_id=stack.a.integration_id)
    [drift] = found.drift
    assert (drift.check, drift.resman_lead_id, drift.repaired) == (
        "fields_disagree",
        prospect_id,
        False,
    )
    assert "status" in drift.fields
    assert _drift_total("fields_disagree") == before + 1
    assert await _status(stack, conversation_id) == "new", "detection alone changes nothing"

    # The scheduled job finds it too (detection only).
    stop = asyncio.Event()
    job = asyncio.create_task(reconcile_forever(stack.runtime, stop, interval=0.05))

    async def scheduled_found_it() -> bool:
        return _drift_total("fields_disagree") >= before + 2

    try:
        await wait_until(scheduled_found_it, within=60)
    finally:
        stop.set()
        await job
    assert await _status(stack, conversation_id) == "new"

    healed = await reconcile(stack.runtime, integration_id=stack.a.integration_id, repair=True)
    assert [d.repaired for d in healed.drift] == [True]
    assert await _status(stack, conversation_id) == "application"
    after = await reconcile(stack.runtime, integration_id=stack.a.integration_id)
    assert after.drift == []


async def test_a_lead_lost_to_a_dead_letter_is_found_and_replayed(stack: Stack) -> None:
    await stack.set_transaction_source(stack.a, "no-such-source")
    created = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id), headers=stack.auth(stack.a)
    )
    conversation_id = created.json()["conversation_id"]

    async def lost() -> bool:
        found = await reconcile(stack.runtime, integration_id=stack.a.integration_id)
        return [d.check for d in found.drift] == ["missing_prospect"]

    await wait_until(lost, within=60)
    await stack.set_transaction_source(stack.a, None)
    healed = await reconcile(stack.runtime, integration_id=stack.a.integration_id, repair=True)
    assert [(d.conversation_id, d.repaired) for d in healed.drift] == [(conversation_id, True)]

    async def synced() -> bool:
        return len(await stack.resman_prospects(stack.a)) == 1

    await wait_until(synced, within=60)
    assert (await reconcile(stack.runtime, integration_id=stack.a.integration_id)).drift == []
