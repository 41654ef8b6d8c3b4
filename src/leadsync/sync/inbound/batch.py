"""What the applies of one pull batch need from the database, read for the whole batch at
once: which prospects are unchanged, which have no link yet, which were retired by a merge,
and the chatbot leads still waiting for their push that share a new prospect's contact.

Asked one prospect at a time these were three reads per prospect, and each read flushed the
creates before it (autoflush), so a batch of 200 new prospects cost 600 reads and 200
flushes: the initial pull stored 160 prospects/s. Read once, an apply that stores a new
prospect touches the database only at the batch's commit, which writes all of them together.

Exact, not a cache: the batch's transaction reads them, and no apply changes them except by
linking a prospect it stores (:meth:`BatchFacts.linked`), after which a second copy of the
same prospect in the batch (it changed during the scan) reads its link as before.

The batch arrives as search entries (``ProspectEntry``: id and digest): an unchanged prospect
is never read further, the others are read here, once (:attr:`BatchFacts.read`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink, RetiredProspect
from leadsync.mapping.from_resman import prospect_contact
from leadsync.mapping.observed import fingerprint_of
from leadsync.resman.models import Prospect, ProspectEntry


@dataclass(frozen=True, slots=True)
class _Waiting:
    """A chatbot lead of the property that no push has linked yet."""

    conversation_id: uuid.UUID
    email: str | None
    phone: str | None


@dataclass(slots=True)
class BatchFacts:
    #: Prospects whose every link holds exactly the state read (see ``unchanged_prospects``).
    unchanged: dict[str, uuid.UUID]
    #: Prospects with no link when the batch began, until an apply of the batch links one.
    unlinked: set[str]
    #: Unlinked prospects that a merge retired: never stored again.
    retired: frozenset[str]
    #: Unlinked chatbot leads sharing an unlinked prospect's email or phone, oldest first.
    waiting: tuple[_Waiting, ...]
    #: The batch's prospects in its order, read; None for an unchanged one (never read).
    read: tuple[Prospect | None, ...] = ()

    def linked(self, prospect_id: str) -> None:
        self.unlinked.discard(prospect_id)

    def waiting_for(self, *, email: str | None, phone: str | None) -> uuid.UUID | None:
        """The oldest waiting lead with this email or this phone: the push will find and
        link the ResMan record itself, so the pull must not store a second copy of the
        person."""
        for lead in self.waiting:
            if (email and lead.email == email) or (phone and lead.phone == phone):
                return lead.conversation_id
        return None


def _digests(entries: Sequence[ProspectEntry], own_source: str | None) -> dict[str, str]:
    return {
        e.prospect_id: fingerprint_of(e.digest, own_source=own_source)
        for e in entries
        if e.prospect_id
    }


async def _link_states(
    session: AsyncSession, *, integration_id: uuid.UUID, digests: dict[str, str]
) -> tuple[dict[str, uuid.UUID], set[str]]:
    """(unchanged prospects with their oldest conversation, every prospect with a link)."""
    if not digests:
        return {}, set()
    rows = await session.execute(
        select(LeadLink.resman_prospect_id, LeadLink.resman_fingerprint, LeadLink.conversation_id)
        .where(
            LeadLink.integration_id == integration_id,
            LeadLink.resman_prospect_id.in_(list(digests)),
        )
        .order_by(LeadLink.created_at, LeadLink.id)
    )
    oldest: dict[str, uuid.UUID] = {}
    stale: set[str] = set()
    for prospect_id, digest, conversation_id in rows.all():
        if prospect_id is None:
            continue
        oldest.setdefault(prospect_id, conversation_id)
        if digest != digests[prospect_id]:
            stale.add(prospect_id)
    return {pid: conv for pid, conv in oldest.items() if pid not in stale}, set(oldest)


async def unchanged_prospects(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    entries: Sequence[ProspectEntry],
    own_source: str | None,
) -> dict[str, uuid.UUID]:
    """The prospects among ``entries`` whose every link already holds exactly this state
    (see :func:`~leadsync.mapping.observed.fingerprint`), each with its oldest conversation
    (the one an apply would name): one query for a whole page, so a re-read of unchanged
    prospects costs no merge and no per-prospect read."""
    digests = _digests(entries, own_source)
    unchanged, _ = await _link_states(session, integration_id=integration_id, digests=digests)
    return unchanged


async def read_batch_facts(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    property_id: uuid.UUID,
    entries: Sequence[ProspectEntry],
    own_source: str | None,
) -> BatchFacts:
    """At most three queries for the whole batch (see the module doc). Reading a changed
    prospect may raise the ResMan error of an unreadable one (``ProspectEntry.prospect``)."""
    digests = _digests(entries, own_source)
    unchanged, with_link = await _link_states(
        session, integration_id=integration_id, digests=digests
    )
    read = tuple(None if e.prospect_id in unchanged else e.prospect() for e in entries)
    facts = await _about_unlinked(
        session,
        integration_id=integration_id,
        property_id=property_id,
        prospects=[p for p in read if p is not None],
        unlinked=set(digests) - with_link,
        unchanged=unchanged,
    )
    facts.read = read
    return facts


async def unlinked_facts(
    session: AsyncSession, *, integration_id: uuid.UUID, property_id: uuid.UUID, prospect: Prospect
) -> BatchFacts:
    """The same for one prospect whose apply found it has no link (a refresh or a webhook):
    retired by a merge? a chatbot lead of the same person waiting for its push?"""
    return await _about_unlinked(
        session,
        integration_id=integration_id,
        property_id=property_id,
        prospects=(prospect,),
        unlinked={prospect.prospect_id} if prospect.prospect_id else set(),
        unchanged={},
    )


async def _about_unlinked(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    property_id: uuid.UUID,
    prospects: Sequence[Prospect],
    unlinked: set[str],
    unchanged: dict[str, uuid.UUID],
) -> BatchFacts:
    retired: frozenset[str] = frozenset()
    if unlinked:
        retired = frozenset(
            await session.scalars(
                select(RetiredProspect.resman_prospect_id).where(
                    RetiredProspect.integration_id == integration_id,
                    RetiredProspect.resman_prospect_id.in_(list(unlinked)),
                )
            )
        )
    contacts = [
        prospect_contact(p)
        for p in prospects
        if p.prospect_id in unlinked and p.prospect_id not in retired and p.customers
    ]
    waiting = await _waiting(session, property_id=property_id, contacts=contacts)
    return BatchFacts(unchanged=unchanged, unlinked=unlinked, retired=retired, waiting=waiting)


async def _waiting(
    session: AsyncSession,
    *,
    property_id: uuid.UUID,
    contacts: Sequence[tuple[str | None, str | None]],
) -> tuple[_Waiting, ...]:
    emails = sorted({email for email, _ in contacts if email})
    phones = sorted({phone for _, phone in contacts if phone})
    clauses = []
    if emails:
        clauses.append(Conversation.email.in_(emails))
    if phones:
        clauses.append(Conversation.phone.in_(phones))
    if not clauses:
        return ()
    # The property and the missing link are compared here, not in SQL: given
    # `property_id = ?`, SQLite (no statistics) walked that index, i.e. every conversation
    # of the property, for every prospect a pull imports. The email and phone indexes find
    # the few candidates.
    rows = await session.execute(
        select(
            Conversation.id,
            Conversation.property_id,
            Conversation.email,
            Conversation.phone,
            LeadLink.resman_prospect_id,
        )
        .outerjoin(LeadLink, LeadLink.conversation_id == Conversation.id)
        .where(or_(*clauses))
        .order_by(Conversation.created_at)
    )
    return tuple(
        _Waiting(conversation_id, email, phone)
        for conversation_id, candidate, email, phone, prospect_id in rows.all()
        if candidate == property_id and prospect_id is None
    )
