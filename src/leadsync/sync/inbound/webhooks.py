"""The LeadUpdateWebhook inbox: process a delivery through the queue, and replay the parked
ones (accepting is ``sync/inbound/inbox.py``'s).

Processing never applies the webhook's body itself: it re-reads the prospect from ResMan
(``inbound.refresh_prospect``), so deliveries that arrive out of order can never move a lead
back to an older state. A prospect ResMan does not know yet is parked, never dropped, and
replayed when the pull sees it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import LeadLink, ResmanIntegration, WebhookInbox
from leadsync.db.session import begin_read
from leadsync.db.types import utcnow
from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.interface import ResManAPI
from leadsync.sync.inbound import apply as inbound
from leadsync.sync.inbound.inbox import enqueue_refreshes
from leadsync.sync.inbound.payload import LeadUpdateWebhook, stored_event
from leadsync.sync.queue.jobs import RefreshJob
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

OLDER_THAN_HELD: Final = "older than the state we hold"
NOT_IN_RESMAN: Final = "ResMan does not know the prospect yet"
NOT_INBOUND: Final = "the integration does not sync from ResMan"
#: apply_prospect declined (e.g. a chatbot lead whose own push is still linking it: that
#: push merges ResMan's current state itself).
NOT_APPLIED: Final = "ResMan's state was not applied to any lead"


# --- processing --------------------------------------------------------------------------
async def _settle(
    session: AsyncSession, inbox_id: uuid.UUID | None, *, state: str, error: str | None = None
) -> str:
    if inbox_id is not None:
        await session.execute(
            update(WebhookInbox)
            .where(WebhookInbox.id == inbox_id)
            .values(state=state, error=error, processed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return state


@dataclass(frozen=True, slots=True)
class _Seen:
    #: lead_link.resman_modified_at: ResMan's modified time of the state we hold.
    held: datetime | None
    #: When the webhook's change happened.
    changed_at: datetime | None
    #: ResMan's own modified time, when the webhook carried it.
    modified_at: datetime | None


async def _seen(
    session: AsyncSession, *, job: RefreshJob, integration_id: uuid.UUID, prospect_id: str
) -> _Seen:
    held = await session.scalar(
        select(LeadLink.resman_modified_at).where(
            LeadLink.integration_id == integration_id,
            LeadLink.resman_prospect_id == prospect_id,
        )
    )
    if job.inbox_id:
        payload = await session.scalar(
            select(WebhookInbox.payload).where(WebhookInbox.id == uuid.UUID(job.inbox_id))
        )
        if payload is not None and (event := stored_event(payload)) is not None:
            return _Seen(held, event.changed_at, event.modified_at)
    raw = job.webhook_timestamp
    return _Seen(held, datetime.fromisoformat(raw) if raw else None, None)


async def _raise_held(
    session: AsyncSession, *, integration_id: uuid.UUID, prospect_id: str, modified_at: datetime
) -> None:
    """Record that we now hold ResMan's state as of at least ``modified_at``: the refresh
    read it after that change, so a later delivery of anything older needs no ResMan call.
    Only ever moves forward, like ``writeback.store_base``."""
    link = LeadLink
    await session.execute(
        update(link)
        .where(
            link.integration_id == integration_id,
            link.resman_prospect_id == prospect_id,
            (link.resman_modified_at.is_(None)) | (link.resman_modified_at < modified_at),
        )
        .values(resman_modified_at=modified_at)
        .execution_options(synchronize_session=False)
    )


async def process_inbox_job(
    session: AsyncSession,
    *,
    job: RefreshJob,
    integration: ResmanIntegration,
    client: ResManAPI,
    creds: ResManCredentials,
    own_source: str | None = None,
) -> str:
    """Apply one webhook's prospect: ``applied``, ``parked`` or ``ignored`` (the state the
    inbox row is left in). ``own_source`` is our TransactionSource id (passed on to
    ``refresh_prospect`` so our own events are not echoed back).

    Call it with no transaction open. Its reads run in a read-only transaction that it
    ends before ResMan is called (on SQLite no lock is held over the network); its writes
    are left in an open transaction for the caller to commit together with the job's
    success mark. ResMan errors propagate (the inbox row stays ``pending``, the runner
    retries the job).
    """
    if session.in_transaction():
        raise RuntimeError("process_inbox_job needs a session with no transaction open")
    prospect_id = job.prospect_id
    inbox_id = uuid.UUID(job.inbox_id) if job.inbox_id else None
    if integration.sync_direction == "to_resman":
        return await _settle(session, inbox_id, state="ignored", error=NOT_INBOUND)
    await begin_read(session)
    seen = await _seen(session, job=job, integration_id=integration.id, prospect_id=prospect_id)
    await session.commit()  # ends the read-only transaction; nothing was written
    # Strictly older only: ResMan's modified times may be whole seconds, so an equal time
    # can be a second change made within the same second.
    if seen.changed_at is not None and seen.held is not None and seen.changed_at < seen.held:
        log.info("webhook older than held state", prospect_id=prospect_id)
        return await _settle(session, inbox_id, state="ignored", error=OLDER_THAN_HELD)
    outcome = await inbound.refresh_prospect(
        session,
        integration=integration,
        client=client,
        creds=creds,
        prospect_id=prospect_id,
        own_source=own_source,
    )
    if outcome is None:
        log.info("webhook parked", prospect_id=prospect_id)
        return await _settle(session, inbox_id, state="parked", error=NOT_IN_RESMAN)
    if outcome.action == "ignored":
        return await _settle(session, inbox_id, state="ignored", error=NOT_APPLIED)
    if seen.modified_at is not None:
        await _raise_held(
            session,
            integration_id=integration.id,
            prospect_id=prospect_id,
            modified_at=seen.modified_at,
        )
    return await _settle(session, inbox_id, state="applied")


async def replay_parked(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    prospect_ids: Collection[str] | None = None,
) -> int:
    """Queue parked webhooks again (all of the integration's, or those of ``prospect_ids``,
    e.g. the prospects a pull just saw); returns how many. Flushes, never commits.

    Rows go back to ``pending`` by an UPDATE guarded on ``state = 'parked'``, so of two pulls
    replaying at once only one queues each webhook.
    """
    wanted = set(prospect_ids) if prospect_ids is not None else None
    rows = await session.execute(
        select(WebhookInbox.id, WebhookInbox.payload)
        .where(WebhookInbox.integration_id == integration_id, WebhookInbox.state == "parked")
        .order_by(WebhookInbox.received_at, WebhookInbox.id)
    )
    candidates: dict[uuid.UUID, LeadUpdateWebhook] = {}
    for inbox_id, payload in rows.all():
        event = stored_event(payload)
        if event is not None and (wanted is None or event.lead_id in wanted):
            candidates[inbox_id] = event
    if not candidates:
        return 0
    flipped = await session.execute(
        update(WebhookInbox)
        .where(WebhookInbox.id.in_(list(candidates)), WebhookInbox.state == "parked")
        .values(state="pending", error=None)
        .returning(WebhookInbox.id)
        .execution_options(synchronize_session=False)
    )
    mine = set(flipped.scalars().all())
    # Queue in arrival order: the jobs of one prospect run in the order they are queued.
    await enqueue_refreshes(
        session,
        integration_id=integration_id,
        events=[(inbox_id, event) for inbox_id, event in candidates.items() if inbox_id in mine],
    )
    return len(mine)
