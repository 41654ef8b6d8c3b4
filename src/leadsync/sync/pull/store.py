"""Storing what a pull read: a batch of prospects applied in one transaction, with what the
batch needs from the database read once (``sync.inbound.batch``); when one prospect of the
batch fails, the batch again one prospect per transaction, and a prospect that fails again
is queued for a refresh so the pull can go on without losing it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.db.models import LeadLink, ResmanIntegration
from leadsync.resman.models import Prospect, ProspectEntry
from leadsync.sync.inbound.apply import ApplyOutcome, apply_prospect
from leadsync.sync.inbound.batch import BatchFacts, read_batch_facts
from leadsync.sync.pull.plan import PullSummary
from leadsync.sync.queue.jobs import (
    UPDATE_PRIORITY,
    Placement,
    RefreshJob,
    enqueue_job,
    refresh_key,
)
from leadsync.sync.queue.targets import IntegrationNotFoundError
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

#: Failures of one prospect's apply that are about the data or a race, not about the run:
#: the prospect is queued for a refresh (with retries) and the pull goes on.
APPLY_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, ValueError, LookupError)

#: A prospect's ResMan id with what its apply did.
Applied = tuple[str | None, ApplyOutcome]


@dataclass(frozen=True, slots=True)
class BatchStore:
    sessionmaker: async_sessionmaker[AsyncSession]
    integration_id: uuid.UUID
    property_id: uuid.UUID
    #: Our Chatbot TransactionSource id: our own events coming back are not news.
    own_source: str | None

    async def apply_batch(self, entries: Sequence[ProspectEntry]) -> list[Applied] | None:
        """All prospects in one transaction; None when one of them failed (nothing committed).
        A prospect ResMan sent that cannot be read raises its ResMan error (nothing committed)."""
        try:
            async with self.sessionmaker() as session, session.begin():
                facts = await read_batch_facts(
                    session,
                    integration_id=self.integration_id,
                    property_id=self.property_id,
                    entries=entries,
                    own_source=self.own_source,
                )
                # Held for the whole batch: the identity map keeps unchanged objects only
                # weakly, so a session.get per prospect read the row again every time.
                integration = await self._integration(session)
                outcomes: list[Applied] = []
                for entry, prospect in zip(entries, facts.read, strict=True):
                    outcome = (
                        ApplyOutcome(facts.unchanged[entry.prospect_id or ""], "unchanged")
                        if prospect is None
                        else await self._apply(session, integration, prospect, facts)
                    )
                    outcomes.append((entry.prospect_id, outcome))
                return outcomes
        except APPLY_ERRORS:
            return None

    async def apply_one_by_one(
        self, entries: Sequence[ProspectEntry], *, summary: PullSummary
    ) -> list[Applied]:
        """The batch again, one transaction per prospect; a prospect that fails again is
        queued for a refresh (the worker retries it, and a dead letter shows it), so the
        cursor can move on without losing it."""
        outcomes: list[Applied] = []
        for prospect in [entry.prospect() for entry in entries]:
            try:
                async with self.sessionmaker() as session, session.begin():
                    integration = await self._integration(session)
                    outcome = await self._apply(session, integration, prospect, None)
                outcomes.append((prospect.prospect_id, outcome))
            except APPLY_ERRORS as exc:
                summary.failed_syncs += 1
                await self._queue_refresh(prospect, error=exc)
        return outcomes

    async def _queue_refresh(self, prospect: Prospect, *, error: Exception) -> None:
        prospect_id = prospect.prospect_id
        log.warning(
            "pulled prospect could not be applied; queued for a refresh",
            integration_id=str(self.integration_id),
            prospect_id=prospect_id,
            error_type=type(error).__name__,
        )
        if prospect_id is None:
            return  # nothing to refresh by; ResMan always sends the id: malformed data
        async with self.sessionmaker() as session, session.begin():
            conversation_id = await session.scalar(
                select(LeadLink.conversation_id).where(
                    LeadLink.integration_id == self.integration_id,
                    LeadLink.resman_prospect_id == prospect_id,
                )
            )
            await enqueue_job(
                session,
                job=RefreshJob(prospect_id=prospect_id),
                at=Placement(
                    integration_id=self.integration_id,
                    conversation_id=conversation_id,
                    priority=UPDATE_PRIORITY,
                    resman_lead_id=prospect_id,
                    lead_key=refresh_key(conversation_id=conversation_id, prospect_id=prospect_id),
                ),
            )

    async def _integration(self, session: AsyncSession) -> ResmanIntegration:
        integration = await session.get(ResmanIntegration, self.integration_id)
        if integration is None:
            raise IntegrationNotFoundError(str(self.integration_id))
        return integration

    async def _apply(
        self,
        session: AsyncSession,
        integration: ResmanIntegration,
        prospect: Prospect,
        facts: BatchFacts | None,
    ) -> ApplyOutcome:
        return await apply_prospect(
            session,
            integration=integration,
            prospect=prospect,
            source="pull",
            own_source=self.own_source,
            facts=facts,
        )
