"""The reconciliation job: compare both sides for an integration's linked leads.

Checks: every accepted chatbot lead has a prospect (or a push on its way); each linked lead's
fields agree with the merge base on both sides (a three-way merge of our row, ResMan's current
prospect and the base finds what one side changed that the other never received); no prospect
is linked twice. Drift is counted (``leadsync_consistency_drift_total``) and logged, without
PII. ``repair`` heals through the same paths the sync uses: ResMan's state is applied with the
merge engine (office data is never overwritten, our side's changes are queued as pushes), and
dead pushes of unsynced leads are replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink, LeadSyncQueue, ResmanIntegration
from leadsync.db.session import begin_read, read_session
from leadsync.mapping.from_resman import prospect_fields
from leadsync.mapping.lead import fields_to_json
from leadsync.mapping.to_resman import guard_fields
from leadsync.merge import merge
from leadsync.observability.state import unsynced_conversations
from leadsync.sync.inbound.apply import apply_prospect, rules_of
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.targets import ResManTarget
from leadsync.sync.queue.transcripts import transcript_key
from leadsync.sync.records import conversation_fields
from leadsync.telemetry.logging import get_logger

if TYPE_CHECKING:
    # The runtime wires every layer together; those that only use it import it for types
    # alone, so no import runs back up to it (see pyproject's import contracts).
    from leadsync.runtime import Runtime

log = get_logger(__name__)

DRIFT = Counter(
    "leadsync_consistency_drift",
    "Reconciliation findings by check (missing_prospect, fields_disagree, prospect_gone, "
    "linked_twice).",
    ["check"],
)


class UnknownIntegrationError(LookupError):
    pass


@dataclass(slots=True)
class Drift:
    check: str
    conversation_id: str | None
    resman_lead_id: str | None = None
    fields: list[str] = field(default_factory=list)
    repaired: bool = False


@dataclass(slots=True)
class Reconciliation:
    integration_id: str
    leads_checked: int = 0
    drift: list[Drift] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "consistent": not self.drift}


async def _pending_push(session: AsyncSession, conversation_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(func.count()).where(
            LeadSyncQueue.conversation_id == conversation_id,
            LeadSyncQueue.sync_operation != "pull",
            LeadSyncQueue.state.in_(("queued", "running")),
            # A transcript batch changes no field: it must not hide a drift behind its window.
            LeadSyncQueue.lead_key != transcript_key(conversation_id),
        )
    )
    return bool(found)


async def _linked_twice(session: AsyncSession, integration_id: uuid.UUID) -> list[Drift]:
    rows = await session.execute(
        select(LeadLink.conversation_id)
        .where(LeadLink.integration_id == integration_id)
        .group_by(LeadLink.conversation_id)
        .having(func.count(func.distinct(LeadLink.resman_prospect_id)) > 1)
    )
    return [Drift("linked_twice", str(conv)) for (conv,) in rows.all()]


async def _compare(
    runtime: Runtime,
    integration: ResmanIntegration,
    target: ResManTarget,
    link: LeadLink,
    *,
    repair: bool,
) -> Drift | None:
    """One linked lead: ResMan's current prospect against our row and the base."""
    prospect_id = str(link.resman_prospect_id)
    found = await target.client.search_prospects(creds=target.creds, prospect_id=prospect_id)
    prospect = next((p for p in found if p.prospect_id == prospect_id), None)
    conv_id = str(link.conversation_id)
    if prospect is None:
        return Drift("prospect_gone", conv_id, prospect_id)
    async with runtime.sessionmaker() as session, session.begin():
        conv = await session.get(Conversation, link.conversation_id)
        if conv is None:
            return None
        theirs = fields_to_json(prospect_fields(prospect))
        ours = fields_to_json(guard_fields(conversation_fields(conv)))
        result = merge(
            base=link.base or theirs, domiq=ours, resman=theirs, rules=rules_of(integration)
        )
        unsent = set() if await _pending_push(session, conv.id) else set(result.to_resman)
        fields = sorted(set(result.to_domiq) | unsent)
        if not fields:
            return None
        if repair:
            await apply_prospect(
                session,
                integration=integration,
                prospect=prospect,
                source="reconcile",
                own_source=target.transaction_source,
            )
    return Drift("fields_disagree", conv_id, prospect_id, fields, repaired=repair)


async def reconcile(
    runtime: Runtime, *, integration_id: uuid.UUID, repair: bool = False, limit: int = 500
) -> Reconciliation:
    """Check (and with ``repair`` heal) one integration's ``limit`` most recent linked leads."""
    async with runtime.sessionmaker() as session:
        await begin_read(session)
        integration = await session.get(ResmanIntegration, integration_id)
        if integration is None:
            raise UnknownIntegrationError(f"no integration {integration_id}")
        target = await runtime.targets.get(session, integration_id=integration_id, needs="pull")
        missing = await unsynced_conversations(session, integration_id=integration_id)
        twice = await _linked_twice(session, integration_id)
        links = list(
            await session.scalars(
                select(LeadLink)
                .where(
                    LeadLink.integration_id == integration_id,
                    LeadLink.resman_prospect_id.is_not(None),
                )
                .order_by(LeadLink.created_at.desc())
                .limit(limit)
            )
        )
        await session.commit()
    report = Reconciliation(str(integration_id), leads_checked=len(links) + len(missing))
    report.drift += twice
    for conv_id in missing:
        report.drift.append(await _missing(runtime, conv_id, repair=repair))
    for link in links:
        drift = await _compare(runtime, integration, target, link, repair=repair)
        if drift is not None:
            report.drift.append(drift)
    for drift in report.drift:
        DRIFT.labels(drift.check).inc()
        log.warning("consistency drift", integration_id=str(integration_id), **asdict(drift))
    return report


async def _missing(runtime: Runtime, conversation_id: uuid.UUID, *, repair: bool) -> Drift:
    """A chatbot lead with no prospect and nothing queued: replay its dead pushes."""
    replayed: list[uuid.UUID] = []
    if repair:
        async with runtime.sessionmaker() as session, session.begin():
            dead = await session.scalars(
                select(LeadSyncQueue.id).where(
                    LeadSyncQueue.conversation_id == conversation_id,
                    LeadSyncQueue.state == "dead",
                )
            )
            replayed = await queue.replay(session, job_ids=list(dead))
    return Drift("missing_prospect", str(conversation_id), repaired=bool(replayed))


async def reconcile_forever(runtime: Runtime, stop: asyncio.Event, *, interval: float) -> None:
    """The scheduled job (``leadsync up``): detect only, every ``interval`` seconds; drift
    shows as the metric and a log line, and ``leadsync reconcile --repair`` heals it."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if stop.is_set():
            return
        async with read_session(runtime.sessionmaker) as session:
            ids = list(await session.scalars(select(ResmanIntegration.id)))
        for integration_id in ids:
            try:
                await reconcile(runtime, integration_id=integration_id)
            except Exception:  # ResMan down, or the integration removed meanwhile
                log.exception("reconciliation failed", integration_id=str(integration_id))
