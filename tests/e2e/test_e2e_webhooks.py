"""ResMan -> DomIQ by webhook, end to end: a staff action in the sandbox -> signed webhook over
real HTTP -> inbox -> queue -> worker -> ResMan re-read -> the chatbot's conversation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from leadsync.db.models import Conversation, LeadLink
from leadsync.sync.inbound.webhooks import replay_parked
from stack import Stack
from webhook_kit import (
    chatbot_lead,
    connect_webhook,
    conversation,
    deliver,
    event,
    staff_status,
    wait_for_inbox,
    wait_for_status,
)


async def test_staff_status_change_reaches_the_conversation(stack: Stack) -> None:
    await connect_webhook(stack, stack.a)
    conversation_id, prospect_id = await chatbot_lead(stack, stack.a)
    await staff_status(stack, stack.a, prospect_id)
    await wait_for_status(stack, conversation_id, "application")
    conv = await conversation(stack, conversation_id)
    resman = conv.context["resman"]
    assert resman["customer_type"] == "applicant"
    assert resman["resman_status"] == "application"
    assert resman["resman_prospect_id"] == prospect_id
    [row] = await wait_for_inbox(stack, "applied")
    assert row.payload["lead_id"] == prospect_id
    assert row.payload["status"] == "applicant"
    assert row.integration_id == stack.a.integration_id
    assert row.processed_at is not None


async def test_redelivered_webhook_is_applied_once(stack: Stack) -> None:
    secret = await connect_webhook(stack, stack.a)
    # The sandbox stays silent: this test sends the deliveries itself.
    (await stack.sandbox.put("/admin/webhook", json={"url": None})).raise_for_status()
    conversation_id, prospect_id = await chatbot_lead(stack, stack.a)
    await staff_status(stack, stack.a, prospect_id)
    body = event(prospect_id, status="applicant", at=datetime.now(UTC))
    first = await deliver(stack, stack.a, body, secret=secret, msg_id="msg_twice")
    again = await deliver(stack, stack.a, body, secret=secret, msg_id="msg_twice")
    assert (first.status_code, again.status_code) == (202, 200), again.text
    assert again.json()["duplicate"] is True
    await wait_for_status(stack, conversation_id, "application")
    [row] = await wait_for_inbox(stack, "applied")
    assert row.webhook_id == "msg_twice"


async def test_older_event_after_a_newer_one_does_not_regress(stack: Stack) -> None:
    secret = await connect_webhook(stack, stack.a)
    conversation_id, prospect_id = await chatbot_lead(stack, stack.a)
    changed = await staff_status(stack, stack.a, prospect_id)
    await wait_for_status(stack, conversation_id, "application")
    await wait_for_inbox(stack, "applied")
    # An event from before the staff change arrives late (a slow relay, a retry).
    before = datetime.fromisoformat(changed["modified_at"]) - timedelta(minutes=1)
    late = event(prospect_id, status="prospect", at=before)
    response = await deliver(stack, stack.a, late, secret=secret, msg_id="msg_late")
    assert response.status_code == 202, response.text
    rows = await wait_for_inbox(stack, "applied", "ignored")
    late_row = next(row for row in rows if row.webhook_id == "msg_late")
    assert (late_row.state, late_row.error) == ("ignored", "older than the state we hold")
    conv = await conversation(stack, conversation_id)
    assert conv.status == "application"
    assert conv.context["resman"]["customer_type"] == "applicant"


async def _predicted_prospect_id(stack: Stack, *, seed: int, window: dict[str, str]) -> str:
    """The ProspectID a seeded bulk create will give, learnt from a dry run on property B."""
    bulk = await stack.sandbox.post(
        f"/admin/properties/{stack.b.resman_property_id}/prospects/bulk",
        json={"count": 1, "seed": seed, **window},
    )
    bulk.raise_for_status()
    [prospect] = await stack.resman_prospects(stack.b)
    return str(prospect["prospect_id"])


async def test_event_for_an_unknown_prospect_is_parked_then_applied(stack: Stack) -> None:
    secret = await connect_webhook(stack, stack.a)
    window = {"modified_from": "2026-11-01T00:00:00Z", "modified_to": "2026-11-01T01:00:00Z"}
    prospect_id = await _predicted_prospect_id(stack, seed=4242, window=window)
    body = event(prospect_id, status="prospect", at=datetime.now(UTC))
    response = await deliver(stack, stack.a, body, secret=secret, msg_id="msg_early")
    assert response.status_code == 202, response.text
    [parked] = await wait_for_inbox(stack, "parked")
    assert parked.error == "ResMan does not know the prospect yet"

    # The prospect now reaches property A's ResMan (same seed: same ProspectID).
    bulk = await stack.sandbox.post(
        f"/admin/properties/{stack.a.resman_property_id}/prospects/bulk",
        json={"count": 1, "seed": 4242, **window},
    )
    bulk.raise_for_status()
    async with stack.runtime.sessionmaker() as session, session.begin():
        assert await replay_parked(session, integration_id=stack.a.integration_id) == 1
    stack.runtime.worker.wake()
    [applied] = await wait_for_inbox(stack, "applied")
    assert applied.id == parked.id
    async with stack.runtime.sessionmaker() as session:
        link = await session.scalar(
            select(LeadLink).where(
                LeadLink.integration_id == stack.a.integration_id,
                LeadLink.resman_prospect_id == prospect_id,
            )
        )
        assert link is not None
        stored = await session.get(Conversation, link.conversation_id)
    assert stored is not None
    assert stored.source == "resman"
    assert stored.context["resman"]["resman_prospect_id"] == prospect_id


async def test_parked_event_is_applied_after_the_next_pull(stack: Stack) -> None:
    secret = await connect_webhook(stack, stack.a)
    window = {"modified_from": "2026-11-02T00:00:00Z", "modified_to": "2026-11-02T01:00:00Z"}
    prospect_id = await _predicted_prospect_id(stack, seed=777, window=window)
    body = event(prospect_id, status="prospect", at=datetime.now(UTC))
    response = await deliver(stack, stack.a, body, secret=secret, msg_id="msg_orphan")
    assert response.status_code == 202, response.text
    [parked] = await wait_for_inbox(stack, "parked")
    bulk = await stack.sandbox.post(
        f"/admin/properties/{stack.a.resman_property_id}/prospects/bulk",
        json={"count": 1, "seed": 777, **window},
    )
    bulk.raise_for_status()
    # No manual replay: the pull that brings the prospect in re-queues its parked events.
    pulled = await stack.api.get(
        "/api/resman/leads/pull",
        params={
            "property_id": str(stack.a.property_id),
            "date_from": "2026-11-02T00:00:00Z",
            "date_to": "2026-11-02T02:00:00Z",
        },
        headers=stack.auth(stack.a),
    )
    assert pulled.status_code == 200, pulled.text
    assert pulled.json()["sync_summary"]["new_leads"] == 1
    stack.runtime.worker.wake()
    [applied] = await wait_for_inbox(stack, "applied")
    assert applied.id == parked.id
