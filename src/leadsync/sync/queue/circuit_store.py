"""The shared half of the circuit breaker: ``resman_integration.circuit_open_until``.

Every change is ONE conditional UPDATE, so any number of workers on either database agree:

- opening only moves the time forward (``greatest``/``max``): a 10 s pause decided a second
  later never overwrites a 300 s one (last write used to win);
- the half-open trial is taken by whoever moves a *passed* open-until time to the end of the
  trial: exactly one worker matches the WHERE clause (PostgreSQL re-checks it under the row
  lock; SQLite has a single writer);
- ending a trial (closing, re-opening for the cool-down, or handing the trial back when it
  made no call) only replaces the time the trial itself set: a trip by another worker since
  then stays in force. A failed trial's cool-down may end before the trial's own time did
  (which only bounds a trial whose worker died).

``updated_at`` is kept as it is: it versions the cached target (credentials, lookups).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import ResmanIntegration
from leadsync.db.types import UTCDateTime

_I = ResmanIntegration


def _forward(session: AsyncSession, until: datetime) -> ColumnElement[datetime]:
    proposed = literal(until, UTCDateTime())
    current = func.coalesce(_I.circuit_open_until, proposed)
    if session.get_bind().dialect.name == "postgresql":
        return func.greatest(current, proposed, type_=UTCDateTime())
    # SQLite's two-argument max() is scalar; its text timestamps sort as times.
    return func.max(current, proposed, type_=UTCDateTime())


async def open_until(session: AsyncSession, *, integration_id: uuid.UUID) -> datetime | None:
    value: datetime | None = await session.scalar(
        select(_I.circuit_open_until).where(_I.id == integration_id)
    )
    return value


async def open_circuit(
    session: AsyncSession, *, integration_id: uuid.UUID, until: datetime
) -> datetime | None:
    """Keep ResMan calls of this integration off until ``until`` (or later, if already so);
    returns the open-until time now in force."""
    result: datetime | None = await session.scalar(
        update(_I)
        .where(_I.id == integration_id)
        .values(circuit_open_until=_forward(session, until), updated_at=_I.updated_at)
        .returning(_I.circuit_open_until)
    )
    return result


async def begin_trial(
    session: AsyncSession, *, integration_id: uuid.UUID, now: datetime, trial_until: datetime
) -> bool:
    """Take the one half-open trial; False when the circuit is not half-open or another
    worker took the trial first."""
    result = await session.execute(
        update(_I)
        .where(
            _I.id == integration_id,
            _I.circuit_open_until.is_not(None),
            _I.circuit_open_until <= now,
        )
        .values(circuit_open_until=trial_until, updated_at=_I.updated_at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def end_trial(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    trial_until: datetime,
    until: datetime | None,
) -> bool:
    """The trial is over: the circuit closes (``until`` None), cools down until ``until``, or
    (``until`` now) is half-open again; unless someone opened it further since."""
    result = await session.execute(
        update(_I)
        .where(_I.id == integration_id, _I.circuit_open_until <= trial_until)
        .values(circuit_open_until=until, updated_at=_I.updated_at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
