"""Metrics read from the database at scrape time: the queue, lag, circuits, consistency.

They describe shared state, so every process reading them sees the same figures: correct for
any number of ``serve`` and ``worker`` processes on one PostgreSQL, with no aggregation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink, LeadSyncQueue, ResmanIntegration
from leadsync.db.types import utcnow
from leadsync.db.vocab import QUEUE_STATES
from leadsync.sync.queue.transcripts import TRANSCRIPT_KEY_PREFIX

_PENDING = ("queued", "running")


@dataclass(slots=True)
class SyncState:
    queue_depth: dict[str, int] = field(default_factory=dict)
    oldest_queued_seconds: float = 0.0
    dead_letters: int = 0
    #: integration id -> True while its circuit is open (ResMan treated as down).
    circuits: dict[str, bool] = field(default_factory=dict)
    #: direction -> age in seconds of the oldest change not yet applied on the other side.
    lag_seconds: dict[str, float] = field(default_factory=dict)
    #: integration id -> chatbot leads with no ResMan prospect and no push on its way.
    unsynced_leads: dict[str, int] = field(default_factory=dict)


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


async def _oldest(session: AsyncSession, *conditions: object) -> datetime | None:
    oldest: datetime | None = await session.scalar(
        select(func.min(LeadSyncQueue.created_at)).where(*conditions)  # type: ignore[arg-type]
    )
    return oldest


def _unsynced_join() -> ColumnElement[bool]:
    """Joins an integration to its property's chatbot leads that have no prospect id and no
    push queued or running (a dead letter left them behind: data loss until repaired)."""
    linked = exists().where(
        LeadLink.conversation_id == Conversation.id,
        LeadLink.integration_id == ResmanIntegration.id,
        LeadLink.resman_prospect_id.is_not(None),
    )
    pending = exists().where(
        LeadSyncQueue.conversation_id == Conversation.id,
        LeadSyncQueue.state.in_(_PENDING),
        # A transcript job waits for the create; it never brings a missing prospect.
        ~LeadSyncQueue.lead_key.startswith(TRANSCRIPT_KEY_PREFIX),
    )
    return and_(
        Conversation.property_id == ResmanIntegration.property_id,
        Conversation.source == "chatbot",
        ~linked,
        ~pending,
    )


async def _unsynced(session: AsyncSession) -> dict[str, int]:
    """Per outbound integration: how many chatbot leads are unsynced (``_unsynced_join``)."""
    rows = await session.execute(
        select(ResmanIntegration.id, func.count(Conversation.id))
        .outerjoin(Conversation, _unsynced_join())
        .where(ResmanIntegration.sync_direction != "from_resman")
        .group_by(ResmanIntegration.id)
    )
    return {str(i): int(n) for i, n in rows.all()}


async def unsynced_conversations(
    session: AsyncSession, *, integration_id: uuid.UUID
) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(Conversation.id)
        .join(ResmanIntegration, _unsynced_join())
        .where(
            ResmanIntegration.id == integration_id,
            ResmanIntegration.sync_direction != "from_resman",
        )
    )
    return list(rows)


async def read_state(session: AsyncSession, *, now: datetime | None = None) -> SyncState:
    now = now or utcnow()
    state = SyncState(queue_depth=dict.fromkeys(QUEUE_STATES, 0))
    rows = await session.execute(
        select(LeadSyncQueue.state, func.count()).group_by(LeadSyncQueue.state)
    )
    state.queue_depth.update({s: int(n) for s, n in rows.all()})
    state.dead_letters = state.queue_depth.get("dead", 0)
    state.oldest_queued_seconds = _age(now, await _oldest(session, LeadSyncQueue.state == "queued"))
    pending = LeadSyncQueue.state.in_(_PENDING)
    # A chat transcript waits its batch window on purpose: that wait is not sync lag.
    batching = LeadSyncQueue.lead_key.startswith(TRANSCRIPT_KEY_PREFIX)
    state.lag_seconds = {
        "to_resman": _age(
            now, await _oldest(session, pending, LeadSyncQueue.sync_operation != "pull", ~batching)
        ),
        "from_resman": _age(
            now, await _oldest(session, pending, LeadSyncQueue.sync_operation == "pull")
        ),
    }
    circuits = await session.execute(
        select(ResmanIntegration.id, ResmanIntegration.circuit_open_until)
    )
    state.circuits = {str(i): until is not None and until > now for i, until in circuits.all()}
    state.unsynced_leads = await _unsynced(session)
    return state


def _family(name: str, doc: str, label: str | None, values: dict[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label] if label else None)
    for key, number in values.items():
        family.add_metric([key] if label else [], number)
    return family


class _StateCollector(Collector):
    # Families, not Gauge objects: in multiprocess mode a Gauge would be written to the
    # shared folder and then read back once per process that ever scraped.
    def __init__(self, state: SyncState) -> None:
        self.state = state

    def collect(self) -> Iterable[Metric]:
        state = self.state
        yield _family(
            "leadsync_queue_depth",
            "Jobs in lead_sync_queue by state.",
            "state",
            {k: float(v) for k, v in state.queue_depth.items()},
        )
        yield _family(
            "leadsync_queue_oldest_queued_seconds",
            "Age of the oldest queued job (0 when none).",
            None,
            {"": state.oldest_queued_seconds},
        )
        yield _family(
            "leadsync_dead_letters",
            "Jobs that gave up (state dead).",
            None,
            {"": float(state.dead_letters)},
        )
        yield _family(
            "leadsync_circuit_open",
            "1 while the integration's circuit is open (ResMan treated as down).",
            "integration",
            {k: 1.0 if v else 0.0 for k, v in state.circuits.items()},
        )
        yield _family(
            "leadsync_sync_lag_seconds",
            "Bidirectional sync lag: age of the oldest change not yet applied on the other side.",
            "direction",
            state.lag_seconds,
        )
        yield _family(
            "leadsync_consistency_unsynced_leads",
            "Consistency check: chatbot leads with no ResMan prospect and no push on its way.",
            "integration",
            {k: float(v) for k, v in state.unsynced_leads.items()},
        )


def state_registry(state: SyncState) -> CollectorRegistry:
    """A throw-away registry holding one scrape's database figures."""
    registry = CollectorRegistry()
    registry.register(_StateCollector(state))
    return registry
