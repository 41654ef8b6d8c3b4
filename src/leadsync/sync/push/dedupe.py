"""Duplicate checks before a create: is this lead already a ResMan prospect?

Our own links first (a conversation of the same person already linked: its prospect, and its
base for the merge), then ResMan by email, then by phone. Who counts as the same person is
decided by :func:`leadsync.sync.push.identity.verdict`: the same email, or the same phone with a
compatible name; a phone hit with a clearly different name is only a possible duplicate, and
a name alone never matches. The same check makes a retried create idempotent: a crash after
ResMan accepted the create but before we stored its id is healed by finding the prospect (by
its email, or its phone and name) on the next attempt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink, LeadSyncQueue
from leadsync.mapping.from_resman import prospect_fields
from leadsync.mapping.lead import LeadFields
from leadsync.mapping.normalize import normalize_email, phone_digits
from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.interface import ResManAPI
from leadsync.resman.models import Prospect
from leadsync.resman.reads import read_again_once
from leadsync.sync.push.identity import verdict
from leadsync.sync.queue.claim_sql import ACTIVE_STATES
from leadsync.sync.queue.jobs import PushJob, read_job
from leadsync.sync.records import conversation_fields, shares_contact


@dataclass(frozen=True, slots=True)
class Sibling:
    """Another conversation of this property, already linked, sharing the email or phone."""

    conversation_id: uuid.UUID
    prospect_id: str
    person_id: str | None
    base: dict[str, Any]
    fields: LeadFields


@dataclass(frozen=True, slots=True)
class Existing:
    #: The prospect this lead is (the same person), if any.
    same: Prospect | None = None
    #: A prospect sharing the phone under a clearly different name: the lead still gets its
    #: own prospect, and a person decides (duplicate_lead conflict).
    possible_duplicate: Prospect | None = None


async def same_contact(
    session: AsyncSession, *, conversation_id: uuid.UUID, fields: LeadFields
) -> list[uuid.UUID]:
    """Other conversations (any property) sharing the lead's email or phone.

    Looked up on their own, through the email and phone indexes, so the queries that follow
    are driven by these few ids: joined in one statement, SQLite (which has no statistics)
    walked every link or job of the integration instead, for every create."""
    matches = shares_contact(fields.email, fields.phone)
    if matches is None:
        return []
    rows = await session.scalars(
        select(Conversation.id).where(matches, Conversation.id != conversation_id)
    )
    return list(rows)


async def linked_siblings(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    contacts: list[uuid.UUID],
) -> tuple[Sibling, ...]:
    """Conversations of the integration already linked among ``contacts`` (see
    :func:`same_contact`), oldest first (their links give the prospect and the merge base)."""
    if not contacts:
        return ()
    rows = await session.execute(
        select(Conversation, LeadLink)
        .join(LeadLink, LeadLink.conversation_id == Conversation.id)
        .where(
            LeadLink.conversation_id.in_(contacts),
            LeadLink.integration_id == integration_id,
            LeadLink.resman_prospect_id.is_not(None),
        )
        .order_by(Conversation.created_at)
    )
    return tuple(
        Sibling(
            conversation_id=conv.id,
            prospect_id=str(link.resman_prospect_id),
            person_id=link.resman_person_id,
            base=dict(link.base or {}),
            fields=conversation_fields(conv),
        )
        for conv, link in rows
    )


async def earlier_create(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    contacts: list[uuid.UUID],
    seq: int,
) -> uuid.UUID | None:
    """A conversation among ``contacts`` (see :func:`same_contact`), not linked yet, whose
    push to the integration is still queued or running ahead of this job (``seq``): two chats
    of one new person, pushed at once, would both search ResMan, find no one and both create.
    The later one waits for the earlier create and then links to it; a create whose answer
    was lost keeps its place until its retry settles it (its job stays queued). Returns that
    conversation's id."""
    if not contacts:
        return None
    q = LeadSyncQueue
    rows = await session.execute(
        select(q.conversation_id, q.integration_id, q.sync_operation, q.sync_data)
        .outerjoin(LeadLink, LeadLink.conversation_id == q.conversation_id)
        .where(
            q.conversation_id.in_(contacts),
            q.state.in_(ACTIVE_STATES),
            q.seq < seq,
            or_(LeadLink.id.is_(None), LeadLink.resman_prospect_id.is_(None)),
        )
        .order_by(q.seq)
    )
    for other, integration, operation, data in rows.all():
        # The integration is compared here, not in SQL: given `integration_id = ?`, SQLite
        # (no statistics) walks that index, i.e. every job of the integration.
        # Only a push of the conversation itself creates (a transcript batch waits for it).
        if integration == integration_id and isinstance(read_job(operation, data or {}), PushJob):
            return other  # type: ignore[no-any-return]
    return None


async def _prospect(
    client: ResManAPI, creds: ResManCredentials, prospect_id: str
) -> Prospect | None:
    found = await read_again_once(
        lambda: client.search_prospects(creds=creds, prospect_id=prospect_id)
    )
    return next((p for p in found if p.prospect_id == prospect_id), None)


def _as_found(prospect: Prospect, phone: str | None) -> LeadFields:
    """The prospect as the duplicate check compares it: with the phone that matched (a
    prospect may hold several numbers; any one of them is a hit)."""
    fields = prospect_fields(prospect)
    wanted = phone_digits(phone)[-10:]
    for candidate in prospect.lead.phones:
        if wanted and phone_digits(candidate.number)[-10:] == wanted:
            return replace(fields, phone=candidate.number)
    return fields


async def find_existing(
    *,
    client: ResManAPI,
    creds: ResManCredentials,
    fields: LeadFields,
    siblings: tuple[Sibling, ...] = (),
) -> Existing:
    """Our links, then ResMan by email, then by phone (see the module docstring)."""
    for sibling in siblings:
        if verdict(fields, sibling.fields) == "same":
            prospect = await _prospect(client, creds, sibling.prospect_id)
            if prospect is not None and prospect.customers:
                return Existing(same=prospect)
    if fields.email:
        email = fields.email
        for found in await read_again_once(
            lambda: client.search_prospects(creds=creds, email=email)
        ):
            if found.customers and normalize_email(found.lead.email) == fields.email:
                return Existing(same=found)
    return await by_phone(client=client, creds=creds, fields=fields)


async def by_phone(*, client: ResManAPI, creds: ResManCredentials, fields: LeadFields) -> Existing:
    """ResMan's prospects with the lead's phone: the first that is the same person, and the
    first possible duplicate (a retried create sees its own prospect here too)."""
    same: Prospect | None = None
    duplicate: Prospect | None = None
    if not fields.phone:
        return Existing()
    phone = fields.phone
    for found in await read_again_once(lambda: client.search_prospects(creds=creds, phone=phone)):
        if not found.customers:
            continue
        decided = verdict(fields, _as_found(found, fields.phone))
        if decided == "same" and same is None:
            same = found
        elif decided == "possible_duplicate" and duplicate is None:
            duplicate = found
    return Existing(same=same, possible_duplicate=duplicate)


def fill_blanks(ours: LeadFields, theirs: Prospect) -> LeadFields:
    """Linking to a prospect the office already had: never overwrite what it holds; only
    fill its blanks (the three-way merge takes over once a base snapshot exists)."""
    lead = theirs.lead
    return LeadFields(
        first_name=lead.first_name or ours.first_name,
        last_name=lead.last_name or ours.last_name,
        email=normalize_email(lead.email) or ours.email,
        phone=lead.phones[0].number if lead.phones else ours.phone,
        move_in_date=ours.move_in_date,
        budget_min=ours.budget_min,
        budget_max=ours.budget_max,
        bedrooms=ours.bedrooms,
        occupants=ours.occupants,
        pets=ours.pets,
        status=ours.status,
    )
