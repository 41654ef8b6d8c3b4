"""Push one lead job to ResMan: link or create the prospect, then post fields and events.

A plain function over a session and a ResMan interface: the worker wraps it in a job
boundary (session, commit, retries); tests call it directly against the sandbox.

No duplicates, even across crashes: before creating, ResMan is searched by email, then
phone, then (only for leads with neither) name. A retry after a crash that hit between
ResMan accepting a create and our commit finds the prospect it made and links it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import LeadLink
from leadsync.db.types import utcnow
from leadsync.mapping.lead import (
    LeadFields,
    fields_from_json,
    fields_to_json,
    narrative_from_json,
)
from leadsync.mapping.normalize import normalize_email, phone_digits
from leadsync.mapping.status import LeadStatus
from leadsync.mapping.to_resman import (
    ProspectIds,
    first_contact_event,
    lead_to_prospect,
    status_events,
    tour_event,
)
from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.interface import ResManAPI
from leadsync.resman.models import CustomerType, Event, Prospect
from leadsync.sync.queue import ClaimedJob


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Everything a push needs to know about the integration (resolved by the worker)."""

    integration_id: uuid.UUID
    client: ResManAPI
    creds: ResManCredentials
    #: The "Chatbot" ProspectSources id: the TransactionSource of our events.
    transaction_source: str
    #: Lost reasons by lower-cased name -> (id, name), for Cancel events.
    lost_reasons: dict[str, tuple[str, str]]


@dataclass(frozen=True, slots=True)
class PushResult:
    prospect_id: str
    person_id: str | None
    #: created | linked (an existing prospect matched) | updated
    action: str


async def find_existing(
    *, client: ResManAPI, creds: ResManCredentials, fields: LeadFields
) -> Prospect | None:
    """The ResMan prospect this lead already is, if any: email, then phone, then name."""
    if fields.email:
        for found in await client.search_prospects(creds=creds, email=fields.email):
            if normalize_email(found.lead.email) == fields.email:
                return found
    if fields.phone:
        wanted = phone_digits(fields.phone)[-10:]
        for found in await client.search_prospects(creds=creds, phone=fields.phone):
            if any(phone_digits(p.number)[-10:] == wanted for p in found.lead.phones):
                return found
    # A name alone is weak evidence: only leads without any contact point are matched on it,
    # and only to a prospect that has no contact point of its own that could contradict it.
    if not fields.email and not fields.phone and fields.first_name and fields.last_name:
        for found in await client.search_prospects(
            creds=creds, first_name=fields.first_name, last_name=fields.last_name
        ):
            if not found.lead.email and not found.lead.phones:
                return found
    return None


def _events(
    specs: list[dict[str, Any]], *, target: PushTarget, now: datetime
) -> tuple[CustomerType, list[Event]]:
    """Turn the job's event specs into MITS events (ids are resolved only now, at push)."""
    customer_type = CustomerType.PROSPECT
    events: list[Event] = []
    for spec in specs:
        if spec["kind"] == "tour":
            events.append(
                tour_event(
                    start=datetime.fromisoformat(spec["start"]),
                    transaction_source=target.transaction_source,
                    tour_type=spec.get("tour_type", "in_person"),
                    unit=spec.get("unit"),
                    notes=spec.get("notes"),
                )
            )
        elif spec["kind"] == "status":
            lost = None
            if spec.get("lost_reason"):
                lost = target.lost_reasons.get(str(spec["lost_reason"]).lower())
            if lost is None and target.lost_reasons:
                lost = next(iter(target.lost_reasons.values()))
            previous = spec.get("previous")
            mapped = status_events(
                new_status=LeadStatus(spec["new"]),
                previous_status=LeadStatus(previous) if previous else None,
                at=datetime.fromisoformat(spec["at"]) if spec.get("at") else now,
                transaction_source=target.transaction_source,
                lost_reason=lost,
                comments=spec.get("comments"),
            )
            if mapped is not None:
                customer_type, status_evts = mapped
                events.extend(status_evts)
    return customer_type, events


def _fill_blanks(ours: LeadFields, theirs: Prospect) -> LeadFields:
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


@dataclass(frozen=True, slots=True)
class PushPlan:
    """What one job will send, decided from our database alone (read phase)."""

    conversation_id: uuid.UUID
    fields: LeadFields
    customer_type: CustomerType
    events: tuple[Event, ...]
    ids: ProspectIds | None
    narrative: dict[str, Any]


async def plan_push(
    session: AsyncSession, *, job: ClaimedJob, target: PushTarget, now: datetime | None = None
) -> PushPlan:
    """Read phase: the job's snapshot and the lead's link, if it has one."""
    if job.conversation_id is None:
        raise ValueError("push job without a conversation")
    data = job.sync_data
    customer_type, events = _events(data.get("events", []), target=target, now=now or utcnow())
    link = await session.scalar(
        select(LeadLink).where(LeadLink.conversation_id == job.conversation_id)
    )
    ids = None
    if link is not None and link.resman_prospect_id:
        ids = ProspectIds(link.resman_prospect_id, link.resman_person_id)
    return PushPlan(
        conversation_id=job.conversation_id,
        fields=fields_from_json(data["fields"]),
        customer_type=customer_type,
        events=tuple(events),
        ids=ids,
        narrative=data.get("narrative") or {},
    )


@dataclass(frozen=True, slots=True)
class SentPush:
    result: PushResult
    #: The values both sides now agree on: the lead's new base snapshot.
    base: LeadFields


async def send_push(*, plan: PushPlan, target: PushTarget, now: datetime | None = None) -> SentPush:
    """Network phase, no database: link or create the prospect, then post fields and events.

    Runs outside any transaction so a slow ResMan never holds database locks.
    """
    now = now or utcnow()
    fields, ids, events = plan.fields, plan.ids, list(plan.events)
    if ids is not None:
        action = "updated"
    else:
        existing = await find_existing(client=target.client, creds=target.creds, fields=fields)
        if existing is not None and existing.prospect_id:
            ids = ProspectIds(existing.prospect_id, existing.person_id)
            fields = _fill_blanks(fields, existing)
            action = "linked"
        else:
            narrative = narrative_from_json(plan.narrative)
            events.insert(
                0,
                first_contact_event(
                    at=now, transaction_source=target.transaction_source, narrative=narrative
                ),
            )
            action = "created"
    prospect = lead_to_prospect(fields, ids=ids, events=events, customer_type=plan.customer_type)
    answer = await target.client.post_lead(creds=target.creds, prospect=prospect)
    prospect_id = answer.prospect_id or (ids.prospect_id if ids else None)
    if not prospect_id:
        raise ValueError("ResMan accepted the lead but returned no ProspectID")
    person_id = answer.person_id or (ids.person_id if ids else None)
    return SentPush(PushResult(prospect_id, person_id, action), fields)


async def record_push(
    session: AsyncSession,
    *,
    plan: PushPlan,
    sent: SentPush,
    integration_id: uuid.UUID,
    now: datetime | None = None,
) -> None:
    """Write phase: store the link and the new base snapshot (flushes, never commits)."""
    link = await session.scalar(
        select(LeadLink).where(LeadLink.conversation_id == plan.conversation_id)
    )
    await _store_link(
        session,
        link=link,
        conversation_id=plan.conversation_id,
        integration_id=integration_id,
        ids=ProspectIds(sent.result.prospect_id, sent.result.person_id),
        base=fields_to_json(sent.base),
        now=now or utcnow(),
    )


async def push_lead(
    session: AsyncSession, *, job: ClaimedJob, target: PushTarget, now: datetime | None = None
) -> PushResult:
    """All three phases in the caller's session (for callers that own the boundary)."""
    plan = await plan_push(session, job=job, target=target, now=now)
    sent = await send_push(plan=plan, target=target, now=now)
    await record_push(session, plan=plan, sent=sent, integration_id=target.integration_id, now=now)
    return sent.result


async def _store_link(
    session: AsyncSession,
    *,
    link: LeadLink | None,
    conversation_id: uuid.UUID,
    integration_id: uuid.UUID,
    ids: ProspectIds,
    base: dict[str, Any],
    now: datetime,
) -> None:
    # What we just wrote is what both sides now agree on: the next three-way merge compares
    # against it, and the same values read back from ResMan are recognised as our own echo.
    if link is None:
        link = LeadLink(conversation_id=conversation_id, integration_id=integration_id)
        session.add(link)
    link.resman_prospect_id = ids.prospect_id
    link.resman_person_id = ids.person_id
    link.base = base
    link.base_updated_at = now.astimezone(UTC)
    await session.flush()
