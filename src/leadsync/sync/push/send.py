"""Push, network phase: link, create or update the prospect in ResMan, with no database
session (see the package docstring for what creates and updates do)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadsync.db.types import utcnow
from leadsync.mapping.from_resman import prospect_fields
from leadsync.mapping.lead import fields_from_json, fields_to_json, narrative_from_json, restrict
from leadsync.mapping.lost_reasons import choose_lost_reason
from leadsync.mapping.observed import (
    RESMAN_STATUS_KEY,
    after_post,
    observed_status,
    office_view,
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
from leadsync.merge import MergeResult, merge
from leadsync.resman.errors import BusinessError
from leadsync.resman.models import CustomerType, Event, Prospect
from leadsync.resman.reads import read_again_once
from leadsync.sync.push.dedupe import Existing, by_phone, find_existing
from leadsync.sync.push.events import build_events
from leadsync.sync.push.plan import PushPlan
from leadsync.sync.push.returning import is_own_create, returning_prospect
from leadsync.sync.queue.targets import ResManTarget


@dataclass(frozen=True, slots=True)
class PushResult:
    prospect_id: str
    person_id: str | None
    #: created | linked (an existing prospect matched) | updated | unchanged
    action: str


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
    result: MergeResult, *, current: str, target: ResManTarget, now: datetime
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
    plan: PushPlan, ids: ProspectIds, *, target: ResManTarget, now: datetime
) -> SentPush:
    found = await read_again_once(
        lambda: target.client.search_prospects(creds=target.creds, prospect_id=ids.prospect_id)
    )
    current = next((p for p in found if p.prospect_id == ids.prospect_id), None)
    if current is None:
        raise BusinessError(
            "the linked prospect no longer exists in ResMan",
            method="MITS/SearchProspects",
            category="not_found",
            retryable=False,
        )
    resman_type = current.lead.customer_type
    current = office_view(current, own_source=target.require_source())
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
    # applicant back into a prospect); the office's, where a late post of ours overwrote it.
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
    if not to_post and not events and customer_type == resman_type:
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


async def send_push(
    *, plan: PushPlan, target: ResManTarget, now: datetime | None = None
) -> SentPush:
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


async def _own_create(plan: PushPlan, prospect: Prospect, *, target: ResManTarget) -> SentPush:
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
    plan: PushPlan, prospect: Prospect, *, target: ResManTarget, now: datetime
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
    plan: PushPlan, found: Existing, *, target: ResManTarget, now: datetime
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
