"""Apply ResMan's view of a prospect to DomIQ: link or store the lead, three-way merge,
write our side, park conflicts, and queue a push when ResMan needs the merged values.

Idempotent by construction: the merge compares against the stored base snapshot, so the
same prospect applied twice (a re-read pull page, a redelivered webhook, our own write
echoing back) changes nothing the second time.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink, Property, ResmanIntegration
from leadsync.events import publish_lead
from leadsync.mapping.from_resman import prospect_fields, resman_context
from leadsync.mapping.lead import fields_to_json
from leadsync.mapping.observed import RESMAN_STATUS_KEY, fingerprint, office_view, status_signature
from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.interface import ResManAPI
from leadsync.resman.models import Prospect
from leadsync.resman.reads import read_again_once
from leadsync.sync.inbound.batch import BatchFacts, unlinked_facts
from leadsync.sync.inbound.linked import ApplyOutcome, apply_link, rules_of
from leadsync.sync.records import apply_fields, record_status
from leadsync.sync.synclog import log_sync
from leadsync.sync.writeback import store_base

__all__ = ["ApplyOutcome", "apply_prospect", "refresh_prospect", "rules_of"]

DEFAULT_TIMEZONE = "America/Chicago"


async def _timezone(session: AsyncSession, property_id: uuid.UUID) -> str:
    """The property's time zone, read once per session (a pull applies a whole batch of one
    property's prospects in one session; it was a SELECT per prospect)."""
    known: dict[uuid.UUID, str] = session.info.setdefault("leadsync_timezones", {})
    if property_id not in known:
        tz = await session.scalar(select(Property.timezone).where(Property.id == property_id))
        known[property_id] = tz or DEFAULT_TIMEZONE
    return known[property_id]


async def _not_stored(
    session: AsyncSession,
    *,
    integration: ResmanIntegration,
    prospect: Prospect,
    theirs: dict[str, Any],
    facts: BatchFacts | None,
) -> ApplyOutcome | None:
    """Why a prospect with no link is not stored as a lead of its own: a merge retired it,
    or a chatbot lead of the same person waits for its push (which will link it). None:
    store it."""
    prospect_id = str(prospect.prospect_id)
    if facts is None:
        facts = await unlinked_facts(
            session,
            integration_id=integration.id,
            property_id=integration.property_id,
            prospect=prospect,
        )
    if prospect_id in facts.retired:
        return ApplyOutcome(None, "ignored")  # merged into another prospect
    match = facts.waiting_for(email=theirs.get("email"), phone=theirs.get("phone"))
    return None if match is None else ApplyOutcome(match, "ignored")


async def _create(
    session: AsyncSession,
    *,
    integration: ResmanIntegration,
    prospect: Prospect,
    theirs: dict[str, Any],
    context: dict[str, Any],
    modified_at: datetime | None,
    digest: str,
) -> ApplyOutcome:
    conv = Conversation(
        id=uuid.uuid4(),
        property_id=integration.property_id,
        source="resman",
        status="new",
        lead_score=0,
        context={"resman": context},
    )
    session.add(conv)
    apply_fields(conv, theirs)
    # No flush: the unit of work inserts the conversation before the rows that refer to it
    # (it orders tables by their foreign keys), and a batch's creates share one flush.
    record_status(session, conv=conv, old=None, source="resman", changed_by="resman")
    link = LeadLink(
        conversation_id=conv.id,
        integration_id=integration.id,
        resman_prospect_id=prospect.prospect_id,
        resman_person_id=prospect.person_id,
    )
    store_base(
        link,
        new_base={**theirs, RESMAN_STATUS_KEY: status_signature(prospect)},
        resman_modified_at=modified_at,
        resman_fingerprint=digest,
    )
    session.add(link)
    await log_sync(
        session,
        conversation_id=conv.id,
        integration_id=integration.id,
        direction="from_resman",
        status="success",
        sync_type="create",
        resman_lead_id=prospect.prospect_id,
        details={"action": "stored ResMan-only lead"},
    )
    await publish_lead(
        session,
        conv,
        event_type="new_lead",
        source="resman",
        resman_lead_id=prospect.prospect_id,
    )
    return ApplyOutcome(conv.id, "created")


async def _links_of(
    session: AsyncSession, *, integration_id: uuid.UUID, prospect_id: str
) -> Sequence[LeadLink]:
    """The prospect's links, oldest first (several when the person chatted again)."""
    return (
        await session.scalars(
            select(LeadLink)
            .where(
                LeadLink.integration_id == integration_id,
                LeadLink.resman_prospect_id == prospect_id,
            )
            .order_by(LeadLink.created_at, LeadLink.id)
        )
    ).all()


async def apply_prospect(
    session: AsyncSession,
    *,
    integration: ResmanIntegration,
    prospect: Prospect,
    source: str,
    modified_at: datetime | None = None,
    own_source: str | None = None,
    facts: BatchFacts | None = None,
) -> ApplyOutcome:
    """See the module docstring. ``own_source`` is our Chatbot TransactionSource id, so our
    own events are not echoed back into the chatbot's notes. ``facts``: what a pull read
    for its whole batch (``inbound.batch``), instead of asking for this prospect alone.

    A prospect may have several conversations (a person who chatted again): each of them
    gets ResMan's state, merged against its own base. The outcome names the oldest one."""
    prospect_id = prospect.prospect_id
    if not prospect_id or not prospect.customers:
        return ApplyOutcome(None, "ignored")
    digest = fingerprint(prospect, own_source=own_source)
    # From here on ResMan's record as the office left it; ``resman_type`` is what it holds.
    resman_type = prospect.lead.customer_type
    prospect = office_view(prospect, own_source=own_source)
    links: Sequence[LeadLink] = ()
    if facts is None or prospect_id not in facts.unlinked:
        links = await _links_of(session, integration_id=integration.id, prospect_id=prospect_id)
    if links and all(link.resman_fingerprint == digest for link in links):
        return ApplyOutcome(links[0].conversation_id, "unchanged")
    theirs = fields_to_json(prospect_fields(prospect))
    tz = await _timezone(session, integration.property_id)
    context = resman_context(prospect, timezone=tz, own_source=own_source)
    if not links:
        skipped = await _not_stored(
            session, integration=integration, prospect=prospect, theirs=theirs, facts=facts
        )
        if skipped is not None:
            return skipped
        if facts is not None:
            facts.linked(prospect_id)  # a second copy in the batch reads the link
        return await _create(
            session,
            integration=integration,
            prospect=prospect,
            theirs=theirs,
            context=context,
            modified_at=modified_at,
            digest=digest,
        )
    outcomes = [
        await apply_link(
            session,
            integration=integration,
            link=link,
            prospect=prospect,
            theirs=theirs,
            context=context,
            source=source,
            modified_at=modified_at,
            digest=digest,
            resman_type=resman_type,
        )
        for link in links
    ]
    return _combined(outcomes)


def _combined(outcomes: Sequence[ApplyOutcome]) -> ApplyOutcome:
    """One outcome for a prospect's links: named by the oldest, "updated" if any changed."""
    changed = [o for o in outcomes if o.action == "updated"]
    return ApplyOutcome(
        outcomes[0].conversation_id,
        "updated" if changed else outcomes[0].action,
        conflicts_open=sum(o.conflicts_open for o in outcomes),
        conflicts_resolved=sum(o.conflicts_resolved for o in outcomes),
        pushed=any(o.pushed for o in outcomes),
    )


async def refresh_prospect(
    session: AsyncSession,
    *,
    integration: ResmanIntegration,
    client: ResManAPI,
    creds: ResManCredentials,
    prospect_id: str,
    own_source: str | None = None,
) -> ApplyOutcome | None:
    """Fetch ResMan's current state of one prospect and apply it; None if ResMan does not
    know the id (yet). Always the current state, so out-of-order triggers cannot regress."""
    found = await read_again_once(
        lambda: client.search_prospects(creds=creds, prospect_id=prospect_id)
    )
    match = next((p for p in found if p.prospect_id == prospect_id), None)
    if match is None:
        return None
    return await apply_prospect(
        session, integration=integration, prospect=match, source="refresh", own_source=own_source
    )
