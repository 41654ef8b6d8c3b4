"""`leadsync doctor --round-trip`: a bidirectional round trip on a test prospect.

1. A clearly marked test lead ("Leadsync DoctorTest <ref>", doctor-test+<ref>@example.com)
   is accepted and pushed exactly as a chatbot lead is (leads.service + the job runner).
2. Its status is changed in ResMan through the ResMan API itself (an Appointment event
   posted to the prospect, as an office system would), not through our queue.
3. Pulls run until the lead's status reads back ``tour_scheduled``.
4. Clean-up, whatever happened: the prospect is marked lost in ResMan (a Cancel with the
   property's generic lost reason and the comment below), remembered as retired (so later
   pulls never store it again as a walk-in), and our rows for the lead are deleted (the
   conversation and its contact, with its link, status history and conflicts, its queue
   jobs and sync log).

ResMan has no delete, so the prospect stays there, lost, with its three events (the first
contact, the appointment, the Cancel). The real-time event log keeps its events until its
retention ends (LEADSYNC_REALTIME_RETENTION_DAYS).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from sqlalchemy import delete

from leadsync.api.auth import Principal
from leadsync.db.models import (
    Contact,
    Conversation,
    LeadLink,
    LeadSyncLog,
    LeadSyncQueue,
    ResmanIntegration,
    RetiredProspect,
)
from leadsync.db.session import read_session
from leadsync.db.types import utcnow
from leadsync.leads import service
from leadsync.leads.schemas import CreateLeadRequest
from leadsync.mapping.lead import LeadFields
from leadsync.mapping.lost_reasons import choose_lost_reason
from leadsync.mapping.status import LeadStatus
from leadsync.mapping.to_resman import ProspectIds, lead_to_prospect, status_events, tour_event
from leadsync.resman.errors import ResManError

if TYPE_CHECKING:  # the runtime wires the layers together; they name it for types only
    from leadsync.runtime import Runtime

ITEM: Final = "bidirectional round trip (test prospect)"
CLEANUP_COMMENT: Final = "leadsync doctor round-trip test prospect, not a real lead: closed"
_POLL_SECONDS: Final = 0.5


class RoundTripError(Exception):
    """A step failed; the message says which (no personal data: the lead is made up)."""


def _test_lead(property_id: uuid.UUID, ref: str) -> CreateLeadRequest:
    return CreateLeadRequest.model_validate(
        {
            "conversation_id": str(uuid.uuid4()),
            "lead_data": {
                "first_name": "Leadsync",
                "last_name": f"DoctorTest {ref}",
                "email": f"doctor-test+{ref}@example.com",
                "property_id": str(property_id),
                "source": "chatbot",
                "initial_message": "leadsync doctor round-trip test: not a real prospect",
                "lead_score": 0,
            },
        }
    )


async def _wait(check: Callable[[], Awaitable[bool]], *, deadline: float, what: str) -> None:
    while not await check():
        if time.monotonic() > deadline:
            raise RoundTripError(f"timed out waiting for {what}")
        await asyncio.sleep(_POLL_SECONDS)


async def _push(runtime: Runtime, integration: ResmanIntegration, ref: str) -> uuid.UUID:
    principal = Principal(uuid.uuid4(), "leadsync-doctor", frozenset({integration.property_id}))
    async with runtime.sessionmaker() as session, session.begin():
        accepted = await service.accept_lead(
            session, principal=principal, body=_test_lead(integration.property_id, ref)
        )
    if accepted.job_id is not None:
        await runtime.runner.claim_and_run(job_id=accepted.job_id)
    return accepted.conversation_id


async def _state(runtime: Runtime, conversation_id: uuid.UUID) -> service.LeadSyncState:
    async with read_session(runtime.sessionmaker) as session:
        return await service.sync_state(session, conversation_id=conversation_id)


async def _office_books_a_tour(runtime: Runtime, integration: ResmanIntegration, pid: str) -> None:
    async with read_session(runtime.sessionmaker) as session:
        target = await runtime.targets.get(session, integration_id=integration.id)
    event = tour_event(
        start=utcnow() + timedelta(days=1),
        transaction_source=target.require_source(),
        notes="leadsync doctor round-trip test",
    )
    prospect = lead_to_prospect(LeadFields(), ids=ProspectIds(pid), events=(event,))
    await target.client.post_lead(creds=target.creds, prospect=prospect)


async def _status(runtime: Runtime, conversation_id: uuid.UUID) -> str | None:
    async with read_session(runtime.sessionmaker) as session:
        conv = await session.get(Conversation, conversation_id)
        return conv.status if conv is not None else None


async def _mark_lost(runtime: Runtime, integration: ResmanIntegration, pid: str) -> None:
    async with read_session(runtime.sessionmaker) as session:
        target = await runtime.targets.get(session, integration_id=integration.id)
    mapped = status_events(
        new_status=LeadStatus.LOST,
        previous_status=None,
        at=utcnow(),
        transaction_source=target.transaction_source,
        lost_reason=choose_lost_reason(None, target.lost_reasons).reason,
        comments=CLEANUP_COMMENT,
    )
    assert mapped is not None  # "lost" is always pushable
    customer_type, events = mapped
    prospect = lead_to_prospect(
        LeadFields(status="lost"), ids=ProspectIds(pid), events=events, customer_type=customer_type
    )
    await target.client.post_lead(creds=target.creds, prospect=prospect)


async def _forget(
    runtime: Runtime, integration: ResmanIntegration, conversation_id: uuid.UUID, pid: str | None
) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        if pid is not None:
            session.add(
                RetiredProspect(
                    integration_id=integration.id, resman_prospect_id=pid, merged_into=pid
                )
            )
        await session.execute(
            delete(LeadSyncQueue).where(LeadSyncQueue.conversation_id == conversation_id)
        )
        await session.execute(
            delete(LeadSyncLog).where(LeadSyncLog.conversation_id == conversation_id)
        )
        await session.execute(delete(LeadLink).where(LeadLink.conversation_id == conversation_id))
        conv = await session.get(Conversation, conversation_id)
        if conv is not None:
            contact_id = conv.contact_id
            await session.delete(conv)
            await session.flush()
            if contact_id is not None:  # made for the test lead alone (a unique email)
                await session.execute(delete(Contact).where(Contact.id == contact_id))


async def _trip(
    runtime: Runtime, integration: ResmanIntegration, conversation_id: uuid.UUID, deadline: float
) -> str:
    async def synced() -> bool:
        state = await _state(runtime, conversation_id)
        if state.sync_status == "failed":
            raise RoundTripError(
                "the push of the test lead was dead-lettered (leadsync queue list)"
            )
        return state.sync_status == "success" and state.resman_lead_id is not None

    await _wait(synced, deadline=deadline, what="the push to ResMan")
    pid = (await _state(runtime, conversation_id)).resman_lead_id
    assert pid is not None
    await _office_books_a_tour(runtime, integration, pid)

    async def came_back() -> bool:
        await runtime.scheduler.pull_now(integration_id=integration.id, trigger="api")
        return await _status(runtime, conversation_id) == LeadStatus.TOUR_SCHEDULED.value

    await _wait(came_back, deadline=deadline, what="ResMan's change to come back by pull")
    return pid


async def round_trip(
    runtime: Runtime, integration: ResmanIntegration, *, within: float = 120.0
) -> tuple[bool, str]:
    """(passed, detail) for :data:`ITEM`; always cleans up after itself. The caller checks
    first that pushes are not paused (the kill switch)."""
    if integration.sync_direction != "bidirectional":
        return (
            False,
            f"needs a bidirectional integration (this one is {integration.sync_direction})",
        )
    ref = uuid.uuid4().hex[:8]
    deadline = time.monotonic() + within
    conversation_id = await _push(runtime, integration, ref)
    pid: str | None = None
    outcome: tuple[bool, str]
    try:
        pid = await _trip(runtime, integration, conversation_id, deadline)
        outcome = (True, f"test prospect {pid} pushed, changed in ResMan, pulled back")
    except (RoundTripError, ResManError) as exc:
        outcome = (False, f"round trip failed: {exc}")
    finally:
        pid = pid or (await _state(runtime, conversation_id)).resman_lead_id
        cleanup = "cleaned up"
        try:
            if pid is not None:
                await _mark_lost(runtime, integration, pid)
        except ResManError as exc:
            cleanup = f"could not mark {pid} lost in ResMan ({type(exc).__name__})"
        await _forget(runtime, integration, conversation_id, pid)
    passed, detail = outcome
    return passed and cleanup == "cleaned up", f"{detail}; {cleanup}" + (
        f" (ResMan keeps {pid}, lost)" if pid else ""
    )
