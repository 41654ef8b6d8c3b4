"""Push one lead job to ResMan, in three phases: plan (read our database), send (talk to
ResMan, no transaction open), record (write our database).

Creates: duplicate check first (see dedupe.py). A person ResMan already has keeps ONE
prospect: the new conversation links to it with a "new chat" Contact event (returning.py);
else a create with the first-contact event, plus a duplicate_lead conflict when the phone
belongs to someone else.
Updates: ResMan's current state is fetched and three-way merged with the base snapshot, so
a field the office changed meanwhile is never silently overwritten: only the fields the
merge assigns to ResMan are posted, conflicts are resolved by the integration's rules or
parked for review, and office changes flow back to the conversation in the same step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink
from leadsync.db.rows import load_for_change
from leadsync.db.types import utcnow
from leadsync.leads.convert import conversation_fields
from leadsync.mapping.from_resman import prospect_fields
from leadsync.mapping.lead import (
    LeadFields,
    fields_from_json,
    fields_to_json,
    narrative_from_json,
    restrict,
)
from leadsync.mapping.lost_reasons import choose_lost_reason
from leadsync.mapping.observed import (
    RESMAN_STATUS_KEY,
    after_post,
    observed_status,
    remember_signature,
    status_signature,
)
from leadsync.mapping.status import LeadStatus
from leadsync.mapping.to_resman import (
    ProspectIds,
    first_contact_event,
    guard_fields,
    lead_to_prospect,
    new_chat_event,
    status_events,
)
from leadsync.merge import MergeResult, MergeRules, merge
from leadsync.realtime.events import publish_lead
from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.errors import BusinessError
from leadsync.resman.interface import ResManAPI
from leadsync.resman.models import CustomerType, Event, Prospect
from leadsync.sync import queue
from leadsync.sync.dedupe import Existing, Sibling, by_phone, find_existing, linked_siblings
from leadsync.sync.push_events import build_events
from leadsync.sync.queue import ClaimedJob
from leadsync.sync.reconcile import (
    record_conflicts,
    record_duplicate,
    store_base,
    write_domiq,
)
from leadsync.sync.returning import is_own_create, returning_prospect


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Everything a push needs to know about the integration (resolved by the worker)."""

    integration_id: uuid.UUID
    client: ResManAPI
    creds: ResManCredentials
    #: The "Chatbot" ProspectSources id: the TransactionSource of our events (None when the
    #: property has none: fine for pulls, a permanent error for pushes).
    transaction_source: str | None
    #: Lost reasons by lower-cased name -> (id, name), for Cancel events.
    lost_reasons: dict[str, tuple[str, str]]
    rules: MergeRules = field(default_factory=MergeRules)

    def require_source(self) -> str:
        if self.transaction_source is None:
            # Same verdict ResMan would give for a bad source: the job can never succeed
            # until someone configures the property, so it must not burn retries.
            raise BusinessError(
                "no ProspectSource named 'Chatbot' is configured for the property",
                method="Leasing/GetProspectSources",
                category="transaction_source",
                retryable=False,
            )
        return self.transaction_source


@dataclass(frozen=True, slots=True)
class PushResult:
    prospect_id: str
    person_id: str | None
    #: created | linked (an existing prospect matched) | updated | unchanged
    action: str


@dataclass(frozen=True, slots=True)
class PushPlan:
    """What one job will send, decided from our database alone (read phase)."""

    conversation_id: uuid.UUID
    #: Our values: the conversation as it is now. Pushing the current state (not the
    #: snapshot taken when the job was accepted) means a job that runs after later changes,
    #: a merge or a conflict resolution never writes an outdated value back.
    fields: LeadFields
    specs: tuple[dict[str, Any], ...]
    ids: ProspectIds | None
    base: dict[str, Any] | None
    narrative: dict[str, Any]
    #: Unlinked lead only: conversations of the property already linked that share its
    #: email or phone (a returning person, or a shared phone).
    siblings: tuple[Sibling, ...] = ()

    def sibling_of(self, prospect_id: str | None) -> Sibling | None:
        return next((s for s in self.siblings if s.prospect_id == prospect_id), None)


async def plan_push(session: AsyncSession, *, job: ClaimedJob) -> PushPlan:
    if job.conversation_id is None:
        raise ValueError("push job without a conversation")
    data = job.sync_data
    link = await session.scalar(
        select(LeadLink).where(LeadLink.conversation_id == job.conversation_id)
    )
    ids = base = None
    if link is not None and link.resman_prospect_id:
        ids = ProspectIds(link.resman_prospect_id, link.resman_person_id)
        base = dict(link.base or {})
    conv = await session.get(Conversation, job.conversation_id)
    fields = conversation_fields(conv) if conv is not None else fields_from_json(data["fields"])
    siblings: tuple[Sibling, ...] = ()
    if ids is None and job.integration_id is not None:
        siblings = await linked_siblings(
            session,
            conversation_id=job.conversation_id,
            integration_id=job.integration_id,
            fields=fields,
        )
    return PushPlan(
        conversation_id=job.conversation_id,
        fields=fields,
        specs=tuple(data.get("events", [])),
        ids=ids,
        base=base,
        narrative=data.get("narrative") or {},
        siblings=siblings,
    )


@dataclass(frozen=True, slots=True)
class SentPush:
    result: PushResult
    #: The values both sides now agree on (the new base snapshot).
    new_base: dict[str, Any]
    #: The merge of an update or of a returning prospect's link (None otherwise).
    merge: MergeResult | None = None
    #: What the conversation takes; None: the merge's ``to_domiq``.
    to_domiq: dict[str, Any] | None = None
    #: A prospect sharing the phone under another name (a duplicate_lead conflict).
    possible_duplicate: Prospect | None = None


def _status_change_events(
    result: MergeResult, *, current: str, target: PushTarget, now: datetime
) -> tuple[CustomerType | None, list[Event]]:
    if "status" not in result.to_resman:
        return None, []
    mapped = status_events(
        new_status=LeadStatus(result.to_resman["status"]),
        previous_status=LeadStatus(current),
        at=now,
        transaction_source=target.require_source(),
        lost_reason=choose_lost_reason(None, target.lost_reasons).reason,
    )
    return (mapped[0], mapped[1]) if mapped else (None, [])


def _specs_to_send(
    specs: tuple[dict[str, Any], ...], *, merged_status: Any
) -> list[dict[str, Any]]:
    """A status change the merge overruled (the office moved the lead on meanwhile and the
    rules kept ResMan's status) must not be posted anyway; its note still is, as a note."""
    kept: list[dict[str, Any]] = []
    for spec in specs:
        if spec.get("kind") != "status" or spec.get("new") == merged_status:
            kept.append(spec)
        elif spec.get("comments"):
            kept.append({"kind": "note", "comments": spec["comments"]})
    return kept


async def _send_update(
    plan: PushPlan, ids: ProspectIds, *, target: PushTarget, now: datetime
) -> SentPush:
    found = await target.client.search_prospects(creds=target.creds, prospect_id=ids.prospect_id)
    current = next((p for p in found if p.prospect_id == ids.prospect_id), None)
    if current is None:
        raise BusinessError(
            "the linked prospect no longer exists in ResMan",
            method="MITS/SearchProspects",
            category="not_found",
            retryable=False,
        )
    theirs = fields_to_json(prospect_fields(current))
    theirs["status"] = observed_status(current, plan.base)
    base = plan.base if plan.base else theirs
    ours = fields_to_json(guard_fields(plan.fields))
    result = merge(base=base, domiq=ours, resman=theirs, rules=target.rules)
    specs = _specs_to_send(plan.specs, merged_status=result.values.get("status"))
    customer_type, events = build_events(
        specs,
        transaction_source=target.require_source(),
        lost_reasons=target.lost_reasons,
        now=now,
    )
    status_type: CustomerType | None = None
    if not any(spec.get("kind") in ("status", "tour") for spec in plan.specs):
        # A job with its own events (tour, status change) already expresses its status; a
        # merge-derived status change needs events of its own.
        status_type, status_evts = _status_change_events(
            result, current=str(theirs["status"]), target=target, now=now
        )
        events.extend(status_evts)
    # Keep ResMan's own type unless one of our events changes it (a tour must not turn an
    # applicant back into a prospect).
    if status_type is not None:
        customer_type = status_type
    elif not any(spec.get("kind") == "status" for spec in specs):
        customer_type = current.lead.customer_type
    to_post = set(result.to_resman) - {"status"}
    new_base = remember_signature(
        result.new_base,
        signature=status_signature(after_post(current, customer_type=customer_type, events=events)),
        settled=result.outcome("status").settled,
        old_base=plan.base,
    )
    if not to_post and not events and customer_type == current.lead.customer_type:
        return SentPush(PushResult(ids.prospect_id, ids.person_id, "unchanged"), new_base, result)
    prospect = lead_to_prospect(
        restrict(fields_from_json(result.values), to_post),
        ids=ids,
        events=events,
        customer_type=customer_type,
    )
    answer = await target.client.post_lead(creds=target.creds, prospect=prospect)
    person_id = answer.person_id or ids.person_id
    return SentPush(PushResult(ids.prospect_id, person_id, "updated"), new_base, result)


async def send_push(*, plan: PushPlan, target: PushTarget, now: datetime | None = None) -> SentPush:
    """Network phase, no database: link, create or update the prospect."""
    now = now or utcnow()
    if plan.ids is not None:
        return await _send_update(plan, plan.ids, target=target, now=now)
    found = await find_existing(
        client=target.client, creds=target.creds, fields=plan.fields, siblings=plan.siblings
    )
    if found.same is not None:
        if plan.sibling_of(found.same.prospect_id) is None and is_own_create(
            found.same, narrative=plan.narrative, source=target.require_source(), at=now
        ):
            return await _own_create(plan, found.same, target=target)
        return await _send_returning(plan, found.same, target=target, now=now)
    return await _send_create(plan, found, target=target, now=now)


async def _own_create(plan: PushPlan, prospect: Prospect, *, target: PushTarget) -> SentPush:
    """A retried create whose first attempt ResMan accepted: nothing to post again; the
    phone is checked once more so a possible duplicate is still recorded."""
    again = await by_phone(client=target.client, creds=target.creds, fields=plan.fields)
    duplicate = again.possible_duplicate
    if duplicate is not None and duplicate.prospect_id == prospect.prospect_id:
        duplicate = None
    # The base is what ResMan holds: the earlier attempt's values, which may be older than
    # ours (a change accepted between that attempt and this retry). Our values as the base
    # would make the next merge take ResMan's stale ones for office edits and overwrite ours.
    base = fields_to_json(prospect_fields(prospect))
    base["status"] = observed_status(prospect, None)
    base[RESMAN_STATUS_KEY] = status_signature(prospect)
    return SentPush(
        PushResult(str(prospect.prospect_id), prospect.person_id, "created"),
        base,
        possible_duplicate=duplicate,
    )


async def _send_returning(
    plan: PushPlan, prospect: Prospect, *, target: PushTarget, now: datetime
) -> SentPush:
    chat_event = new_chat_event(
        at=now,
        transaction_source=target.require_source(),
        narrative=narrative_from_json(plan.narrative),
        ref=plan.conversation_id.hex[:8],
    )
    decided = returning_prospect(
        ours=plan.fields,
        prospect=prospect,
        sibling=plan.sibling_of(prospect.prospect_id),
        chat_event=chat_event,
        rules=target.rules,
    )
    person_id = prospect.person_id
    if decided.post is not None:
        answer = await target.client.post_lead(creds=target.creds, prospect=decided.post)
        person_id = answer.person_id or person_id
    return SentPush(
        PushResult(str(prospect.prospect_id), person_id, "linked"),
        decided.base,
        decided.merge,
        to_domiq=decided.to_domiq,
    )


async def _send_create(
    plan: PushPlan, found: Existing, *, target: PushTarget, now: datetime
) -> SentPush:
    customer_type, events = build_events(
        list(plan.specs),
        transaction_source=target.require_source(),
        lost_reasons=target.lost_reasons,
        now=now,
    )
    narrative = narrative_from_json(plan.narrative)
    events.insert(
        0,
        first_contact_event(
            at=now, transaction_source=target.require_source(), narrative=narrative
        ),
    )
    prospect = lead_to_prospect(plan.fields, events=events, customer_type=customer_type)
    answer = await target.client.post_lead(creds=target.creds, prospect=prospect)
    if not answer.prospect_id:
        raise ValueError("ResMan accepted the lead but returned no ProspectID")
    base = fields_to_json(guard_fields(plan.fields))
    base[RESMAN_STATUS_KEY] = status_signature(prospect)
    return SentPush(
        PushResult(answer.prospect_id, answer.person_id, "created"),
        base,
        possible_duplicate=found.possible_duplicate,
    )


async def record_push(
    session: AsyncSession,
    *,
    plan: PushPlan,
    sent: SentPush,
    integration_id: uuid.UUID,
) -> None:
    """Write phase: link and base snapshot, plus what the merge of an update brought back
    (office changes for the conversation, conflicts). Flushes, never commits."""
    link = await session.scalar(
        select(LeadLink).where(LeadLink.conversation_id == plan.conversation_id)
    )
    if link is None:
        link = LeadLink(conversation_id=plan.conversation_id, integration_id=integration_id)
        session.add(link)
    link.resman_prospect_id = sent.result.prospect_id
    link.resman_person_id = sent.result.person_id
    store_base(link, new_base=sent.new_base, resman_modified_at=None)
    conv = await load_for_change(session, Conversation, plan.conversation_id)
    brought_back = False
    to_domiq = sent.to_domiq
    if to_domiq is None and sent.merge is not None:
        to_domiq = sent.merge.to_domiq
    if to_domiq and conv is not None:
        brought_back = await write_domiq(session, conv=conv, changes=to_domiq, changed_by="resman")
    if conv is not None and (brought_back or sent.result.action in ("created", "linked")):
        # Subscribers learn the ResMan id of a new lead, or the office changes the merge took.
        await publish_lead(
            session,
            conv,
            event_type="lead_update",
            source="resman" if brought_back else "domiq",
            resman_lead_id=sent.result.prospect_id,
        )
    if sent.merge is not None:
        await record_conflicts(
            session,
            conversation_id=plan.conversation_id,
            integration_id=integration_id,
            result=sent.merge,
            resman_lead_id=sent.result.prospect_id,
            direction="to_resman",
        )
    if sent.possible_duplicate is not None and conv is not None:
        await record_duplicate(
            session,
            conv=conv,
            integration_id=integration_id,
            prospect_id=sent.result.prospect_id,
            other=sent.possible_duplicate,
        )
    if sent.result.action == "linked":
        # Every conversation of the person shows ResMan's state: a refresh applies the
        # prospect (as it now is) to all its links, this new one included.
        await queue.enqueue(
            session,
            integration_id=integration_id,
            conversation_id=plan.conversation_id,
            lead_key=str(plan.conversation_id),
            operation="pull",
            data={"kind": "refresh", "prospect_id": sent.result.prospect_id, "inbox_id": None},
            resman_lead_id=sent.result.prospect_id,
        )
    await session.flush()


async def push_lead(
    session: AsyncSession, *, job: ClaimedJob, target: PushTarget, now: datetime | None = None
) -> PushResult:
    """All three phases in the caller's session (for callers that own the boundary)."""
    plan = await plan_push(session, job=job)
    sent = await send_push(plan=plan, target=target, now=now)
    await record_push(session, plan=plan, sent=sent, integration_id=target.integration_id)
    return sent.result
