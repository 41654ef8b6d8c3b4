"""The LeadUpdateWebhook inbox: accept a verified delivery, process it through the queue, and
replay the parked ones.

Accepting stores the raw payload in ``webhook_inbox`` (its ``webhook_id`` unique, so a
redelivery writes nothing) and enqueues a :class:`~leadsync.sync.queue.jobs.RefreshJob` in
the same transaction.
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

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import LeadLink, ResmanIntegration, WebhookInbox
from leadsync.db.session import begin_read
from leadsync.db.types import utcnow
from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.interface import ResManAPI
from leadsync.sync.inbound import apply as inbound
from leadsync.sync.inbound.payload import Delivery, LeadUpdateWebhook, stored_event
from leadsync.sync.queue.jobs import (
    REFRESH_PRIORITY,
    Placement,
    RefreshJob,
    enqueue_job,
    refresh_key,
)
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

OLDER_THAN_HELD: Final = "older than the state we hold"
NOT_IN_RESMAN: Final = "ResMan does not know the prospect yet"
NOT_INBOUND: Final = "the integration does not sync from ResMan"
#: apply_prospect declined (e.g. a chatbot lead whose own push is still linking it: that
#: push merges ResMan's current state itself).
NOT_APPLIED: Final = "ResMan's state was not applied to any lead"
# Accepting speaks Core to the tables with statements built once, not the ORM: a delivery
# needs no objects, and building and flushing them was most of its CPU (issue 10's webhook
# row).
_INBOX: Final = WebhookInbox.metadata.tables[WebhookInbox.__tablename__]
_LINKS: Final = LeadLink.metadata.tables[LeadLink.__tablename__]
#: ON CONFLICT DO NOTHING settles concurrent redeliveries inside the database: the second
#: insert waits for the first and then writes nothing, with no error to recover from.
_INSERT_INBOX: Final = {
    name: dialect_insert(_INBOX)
    .on_conflict_do_nothing(index_elements=[_INBOX.c.webhook_id])
    .returning(_INBOX.c.id)
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_LINKED_CONVERSATION: Final = select(_LINKS.c.conversation_id).where(
    _LINKS.c.integration_id == bindparam("integration_id"),
    _LINKS.c.resman_prospect_id == bindparam("prospect_id"),
)


@dataclass(frozen=True, slots=True)
class AcceptedDelivery:
    duplicate: bool
    inbox_id: uuid.UUID | None = None
    job_id: uuid.UUID | None = None


# --- accepting ---------------------------------------------------------------------------
async def _linked_conversation(
    session: AsyncSession, *, integration_id: uuid.UUID, prospect_id: str
) -> uuid.UUID | None:
    conversation_id: uuid.UUID | None = await session.scalar(
        _LINKED_CONVERSATION, {"integration_id": integration_id, "prospect_id": prospect_id}
    )
    return conversation_id


async def _enqueue_refresh(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    event: LeadUpdateWebhook,
    inbox_id: uuid.UUID,
) -> uuid.UUID:
    conversation_id = await _linked_conversation(
        session, integration_id=integration_id, prospect_id=event.lead_id
    )
    status_changed = "status" in event.updated_fields
    return await enqueue_job(
        session,
        job=RefreshJob(
            prospect_id=event.lead_id,
            inbox_id=str(inbox_id),
            webhook_timestamp=event.changed_at.isoformat(),
            sync_type="status_change" if status_changed else "update",
        ),
        at=Placement(
            integration_id=integration_id,
            conversation_id=conversation_id,
            priority=REFRESH_PRIORITY,
            resman_lead_id=event.lead_id,
            lead_key=refresh_key(conversation_id=conversation_id, prospect_id=event.lead_id),
        ),
    )


async def _insert_inbox(
    session: AsyncSession, *, integration_id: uuid.UUID, delivery: Delivery
) -> uuid.UUID | None:
    """The new row's id, or None when the webhook-id is already there."""
    dialect = session.get_bind().dialect.name
    inserted: uuid.UUID | None = (
        await session.execute(
            _INSERT_INBOX[dialect],
            {
                "id": uuid.uuid4(),
                "webhook_id": delivery.webhook_id,
                "integration_id": integration_id,
                "payload": delivery.payload,
                "state": "pending",
                "received_at": utcnow(),
            },
        )
    ).scalar_one_or_none()
    return inserted


async def accept_delivery(
    session: AsyncSession, *, integration_id: uuid.UUID, delivery: Delivery
) -> AcceptedDelivery:
    """Store a verified delivery and queue its processing (flushes; the caller commits)."""
    inbox_id = await _insert_inbox(session, integration_id=integration_id, delivery=delivery)
    if inbox_id is None:
        return AcceptedDelivery(duplicate=True)
    job_id = await _enqueue_refresh(
        session, integration_id=integration_id, event=delivery.event, inbox_id=inbox_id
    )
    return AcceptedDelivery(duplicate=False, inbox_id=inbox_id, job_id=job_id)


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
    for inbox_id, event in candidates.items():
        if inbox_id in mine:
            await _enqueue_refresh(
                session, integration_id=integration_id, event=event, inbox_id=inbox_id
            )
    return len(mine)
