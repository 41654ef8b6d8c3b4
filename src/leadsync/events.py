"""Append lead events to the realtime log in the SAME transaction as the change itself.

The log (``realtime_event``) is the source of truth for the WebSocket: an event exists if
and only if its change committed, its ``sequence`` orders it, and a client that reconnects
with the last sequence it saw is sent everything after it. Fan-out only tells listeners that
there is something new to read (:func:`notify`).

Below the engine on purpose: every layer that changes a lead (the sync engine, the lead and
conflict services) appends here; the realtime package only reads and delivers.
"""

from __future__ import annotations

import uuid
from typing import Any, Final, Literal

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from leadsync.db.models import Conversation, RealtimeEvent

#: The PostgreSQL NOTIFY channel every instance's hub listens on (db/listen.py).
CHANNEL: Final = "leadsync_events"
#: session.info key: the (channel, property) pairs already notified in this transaction.
_NOTIFIED: Final = "leadsync_notified"

EventType = Literal["lead_update", "status_change", "new_lead", "sync_conflict"]
Source = Literal["resman", "domiq"]


def lead_payload(conv: Conversation, *, resman_lead_id: str | None = None) -> dict[str, Any]:
    """What a subscriber gets about a lead: enough to update its view without a read."""
    return {
        "conversation_id": str(conv.id),
        "property_id": str(conv.property_id),
        "resman_lead_id": resman_lead_id,
        "status": conv.status,
        "first_name": conv.first_name,
        "last_name": conv.last_name,
        "email": conv.email,
        "phone": conv.phone,
        "lead_score": conv.lead_score,
        "move_in_date": conv.move_in_date.isoformat() if conv.move_in_date else None,
        "source": conv.source,
        "context": (conv.context or {}).get("resman"),
    }


async def publish(
    session: AsyncSession,
    *,
    property_id: uuid.UUID,
    event_type: EventType,
    source: Source,
    data: dict[str, Any],
) -> None:
    """Add an event to the caller's transaction; the caller's boundary commits it.

    No flush here: the row is written with the transaction's next flush (the commit at the
    latest), so a pull that stores a batch of new leads inserts their events in one
    statement instead of one round trip each. The sequence still follows the order of
    ``publish`` calls: the unit of work inserts one table's rows in the order they were added.
    """
    session.add(
        RealtimeEvent(property_id=property_id, event_type=event_type, source=source, data=data)
    )
    # Other instances learn of it at commit (never before, never on rollback).
    await notify(session, property_id=property_id)


async def publish_lead(
    session: AsyncSession,
    conv: Conversation,
    *,
    event_type: EventType,
    source: Source,
    resman_lead_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """The usual event: a lead changed; subscribers get its current state (plus ``extra``)."""
    data = lead_payload(conv, resman_lead_id=resman_lead_id)
    if extra:
        data.update(extra)
    await publish(
        session, property_id=conv.property_id, event_type=event_type, source=source, data=data
    )


async def notify(session: AsyncSession, *, property_id: uuid.UUID, channel: str = CHANNEL) -> None:
    """Tell every instance's listener, at commit, that ``property_id`` has new events.

    Runs in the caller's transaction (PostgreSQL folds identical notifications of one
    transaction into one, so a batch of events costs the listeners one wake-up).
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    # Once per property and transaction: every further one would be folded into the first
    # by PostgreSQL anyway, and each costs a round trip (and flushes the session).
    notified: set[tuple[str, uuid.UUID]] = session.info.setdefault(_NOTIFIED, set())
    if (channel, property_id) in notified:
        return
    notified.add((channel, property_id))
    # Without flushing what is pending: the notification is delivered at commit, when all of
    # it is written anyway, and a flush here would split a batch's inserts in two.
    with session.no_autoflush:
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": channel, "payload": str(property_id)},
        )


@event.listens_for(Session, "after_transaction_end")
def _forget_notified(session: Session, transaction: SessionTransaction) -> None:
    # At the end of the real transaction or of a savepoint (a rolled-back savepoint takes
    # its NOTIFY with it; one notification too many is harmless where one too few would
    # leave a listener asleep). Not at the end of a flush's internal subtransaction, which
    # also ends here: that would notify again after every flush.
    if transaction.parent is None or transaction.nested:
        session.info.pop(_NOTIFIED, None)
