"""The inbox's front door: accept verified deliveries, several in one transaction.

Accepting stores the raw payload in ``webhook_inbox`` (its ``webhook_id`` unique, so a
redelivery writes nothing) and enqueues a :class:`~leadsync.sync.queue.jobs.RefreshJob` in
the same transaction; processing is ``sync/inbound/webhooks.py``'s.

:class:`InboxWriter` is a group commit. The receiver's deliveries that arrive while a
transaction is being written wait for the next one, which then stores all of them: one
INSERT of inbox rows, one read of the links per integration and one INSERT of jobs per
transaction instead of per delivery (`leadsync.db.grouped`). Each request is still answered
only after the commit that holds its delivery. On SQLite every transaction is a turn of the
single write lock, and its BEGIN and COMMIT cost about as much as the rows (issue 10's
webhook row).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.db.grouped import Grouped
from leadsync.db.models import LeadLink, WebhookInbox
from leadsync.db.types import utcnow
from leadsync.sync.inbound.payload import Delivery, LeadUpdateWebhook
from leadsync.sync.queue.jobs import (
    REFRESH_PRIORITY,
    Job,
    Placement,
    RefreshJob,
    enqueue_jobs,
    refresh_key,
)

# Core statements built once, not the ORM: a delivery needs no objects, and building and
# flushing them was most of its CPU (issue 10's webhook row).
_INBOX: Final = WebhookInbox.metadata.tables[WebhookInbox.__tablename__]
_LINKS: Final = LeadLink.metadata.tables[LeadLink.__tablename__]
#: ON CONFLICT DO NOTHING settles concurrent redeliveries inside the database: the second
#: insert waits for the first and then writes nothing, with no error to recover from. The
#: rows written come back with their webhook-id (a redelivery's row does not come back).
_INSERT_INBOX: Final = {
    name: dialect_insert(_INBOX)
    .on_conflict_do_nothing(index_elements=[_INBOX.c.webhook_id])
    .returning(_INBOX.c.id, _INBOX.c.webhook_id)
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
#: SQLite's way to many rows (below): one executemany without RETURNING, then this read.
_INSERT_INBOX_ROWS: Final = sqlite.insert(_INBOX).on_conflict_do_nothing(
    index_elements=[_INBOX.c.webhook_id]
)
_INBOX_IDS: Final = select(_INBOX.c.id, _INBOX.c.webhook_id).where(
    _INBOX.c.webhook_id.in_(bindparam("webhook_ids", expanding=True))
)
_LINKED_CONVERSATIONS: Final = select(_LINKS.c.resman_prospect_id, _LINKS.c.conversation_id).where(
    _LINKS.c.integration_id == bindparam("integration_id"),
    _LINKS.c.resman_prospect_id.in_(bindparam("prospect_ids", expanding=True)),
)
#: Deliveries written in one transaction at most (far below either database's limit on
#: bound parameters: six per inbox row, ten per job).
MAX_BATCH: Final = 64


@dataclass(frozen=True, slots=True)
class AcceptedDelivery:
    duplicate: bool
    inbox_id: uuid.UUID | None = None
    job_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Arrival:
    """A verified delivery for an integration, to be accepted."""

    integration_id: uuid.UUID
    delivery: Delivery


async def _linked_conversations(
    session: AsyncSession, *, integration_id: uuid.UUID, prospect_ids: Collection[str]
) -> dict[str, uuid.UUID]:
    rows = await session.execute(
        _LINKED_CONVERSATIONS,
        {"integration_id": integration_id, "prospect_ids": sorted(prospect_ids)},
    )
    linked: dict[str, uuid.UUID] = {row[0]: row[1] for row in rows}
    return linked


def _refresh(
    *,
    integration_id: uuid.UUID,
    inbox_id: uuid.UUID,
    event: LeadUpdateWebhook,
    conversation_id: uuid.UUID | None,
) -> tuple[Job, Placement]:
    status_changed = "status" in event.updated_fields
    return RefreshJob(
        prospect_id=event.lead_id,
        inbox_id=str(inbox_id),
        webhook_timestamp=event.changed_at.isoformat(),
        sync_type="status_change" if status_changed else "update",
    ), Placement(
        integration_id=integration_id,
        conversation_id=conversation_id,
        priority=REFRESH_PRIORITY,
        resman_lead_id=event.lead_id,
        lead_key=refresh_key(conversation_id=conversation_id, prospect_id=event.lead_id),
    )


async def enqueue_refreshes(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    events: Sequence[tuple[uuid.UUID, LeadUpdateWebhook]],
) -> list[uuid.UUID]:
    """Queue a refresh for each ``(inbox id, event)`` in order (a linked prospect's under its
    lead's key); the job ids. Flushes, never commits."""
    linked = await _linked_conversations(
        session, integration_id=integration_id, prospect_ids={e.lead_id for _, e in events}
    )
    jobs = [
        _refresh(
            integration_id=integration_id,
            inbox_id=inbox_id,
            event=event,
            conversation_id=linked.get(event.lead_id),
        )
        for inbox_id, event in events
    ]
    return await enqueue_jobs(session, jobs=jobs)


async def _insert_inbox(
    session: AsyncSession, *, arrivals: Sequence[Arrival]
) -> dict[str, uuid.UUID]:
    """The new rows' ids by webhook-id (a webhook-id already there is left out)."""
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "webhook_id": a.delivery.webhook_id,
            "integration_id": a.integration_id,
            "payload": a.delivery.payload,
            "state": "pending",
            "received_at": now,
        }
        for a in arrivals
    ]
    dialect = session.get_bind().dialect
    statement = _INSERT_INBOX[dialect.name]
    if len(rows) == 1 or dialect.insert_executemany_returning:
        return {
            webhook_id: inbox_id for inbox_id, webhook_id in await session.execute(statement, rows)
        }
    # SQLite engines run an INSERT with RETURNING one row at a time (db/engine.py says why),
    # and each statement cost a delivery more CPU than SQLite's own work: the rows go in one
    # executemany, and the ids read back tell ours (the ids we chose) from those already
    # there. Nobody else writes in between: the transaction holds the write lock.
    await session.execute(_INSERT_INBOX_ROWS, rows)
    chosen = {row["id"] for row in rows}
    found = await session.execute(_INBOX_IDS, {"webhook_ids": [row["webhook_id"] for row in rows]})
    return {webhook_id: inbox_id for inbox_id, webhook_id in found if inbox_id in chosen}


async def accept_deliveries(
    session: AsyncSession, *, arrivals: Sequence[Arrival]
) -> list[AcceptedDelivery]:
    """Store verified deliveries and queue their processing, in the order given; what became
    of each. A webhook-id already stored, or given twice, is a duplicate after its first.
    Flushes; the caller commits."""
    first: dict[str, Arrival] = {}
    for arrival in arrivals:
        first.setdefault(arrival.delivery.webhook_id, arrival)
    stored = await _insert_inbox(session, arrivals=list(first.values()))
    # In arrival order, whatever order the database returned the rows in: one prospect's
    # refreshes run in the order they are queued.
    by_integration: dict[uuid.UUID, list[Arrival]] = {}
    for webhook_id, arrival in first.items():
        if webhook_id in stored:
            by_integration.setdefault(arrival.integration_id, []).append(arrival)
    job_ids: dict[str, uuid.UUID] = {}
    for integration_id, mine in by_integration.items():
        ids = await enqueue_refreshes(
            session,
            integration_id=integration_id,
            events=[(stored[a.delivery.webhook_id], a.delivery.event) for a in mine],
        )
        job_ids.update(zip((a.delivery.webhook_id for a in mine), ids, strict=True))
    accepted: list[AcceptedDelivery] = []
    for arrival in arrivals:
        webhook_id = arrival.delivery.webhook_id
        if first[webhook_id] is arrival and webhook_id in stored:
            accepted.append(
                AcceptedDelivery(
                    duplicate=False, inbox_id=stored[webhook_id], job_id=job_ids[webhook_id]
                )
            )
        else:
            accepted.append(AcceptedDelivery(duplicate=True))
    return accepted


async def accept_delivery(
    session: AsyncSession, *, integration_id: uuid.UUID, delivery: Delivery
) -> AcceptedDelivery:
    """Store one verified delivery and queue its processing (flushes; the caller commits)."""
    (accepted,) = await accept_deliveries(
        session, arrivals=[Arrival(integration_id=integration_id, delivery=delivery)]
    )
    return accepted


class InboxWriter:
    """Accepts deliveries in groups (`leadsync.db.grouped`): whatever arrived while the last
    transaction was being written goes into the next one, at most ``max_batch``."""

    def __init__(
        self, *, sessionmaker: async_sessionmaker[AsyncSession], max_batch: int = MAX_BATCH
    ) -> None:
        self._sessionmaker = sessionmaker
        self._grouped: Grouped[Arrival, AcceptedDelivery] = Grouped(
            self._write, max_group=max_batch
        )
        #: Transactions written so far (a delivery's own retry alone included).
        self.transactions = 0

    async def accept(self, *, integration_id: uuid.UUID, delivery: Delivery) -> AcceptedDelivery:
        """Store the delivery and queue its processing; returns once that is committed."""
        return await self._grouped.run(Arrival(integration_id=integration_id, delivery=delivery))

    async def _write(self, arrivals: Sequence[Arrival]) -> list[AcceptedDelivery | Exception]:
        self.transactions += 1
        try:
            async with self._sessionmaker() as session, session.begin():
                return list(await accept_deliveries(session, arrivals=arrivals))
        except (IntegrityError, DataError) as exc:
            if len(arrivals) == 1:
                return [exc]
            # A delivery the database refuses must not take the others down with it.
            return [outcome for a in arrivals for outcome in await self._write([a])]
