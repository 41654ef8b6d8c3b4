"""A returning prospect: a new conversation of a person ResMan already has (see README
"Returning prospects and shared phones"). Pure: decides what to post and what to keep.

ResMan keeps ONE prospect. The new chat reaches it as a Contact event (its first message and
summary), and its contact data joins by the three-way merge: with the base of a conversation
of the same person already linked (so only what really changed flows), else by filling
ResMan's blanks. The office's own type (an applicant stays an applicant) is never touched,
and the new conversation takes the values both sides now agree on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from leadsync.mapping.from_resman import prospect_fields
from leadsync.mapping.lead import (
    SYNC_FIELDS,
    LeadFields,
    fields_from_json,
    fields_to_json,
    narrative_from_json,
    restrict,
)
from leadsync.mapping.observed import office_view
from leadsync.mapping.to_resman import (
    ProspectIds,
    first_contact_event,
    guard_fields,
    lead_to_prospect,
)
from leadsync.merge import MergeResult, MergeRules, is_blank, merge, normalize_snapshot
from leadsync.resman.models import Event, Prospect
from leadsync.sync.push.dedupe import Sibling, fill_blanks


@dataclass(frozen=True, slots=True)
class Returning:
    #: What to post to ResMan; None when ResMan already holds it all (a retried push).
    post: Prospect | None
    #: The new link's base snapshot.
    base: dict[str, Any]
    #: Values the new conversation takes (ResMan's, or the agreed ones it left blank).
    to_domiq: dict[str, Any]
    #: The merge (with a sibling's base), for its conflicts; None when blanks were filled.
    merge: MergeResult | None


def _key(event: Event) -> tuple[str, str | None, str]:
    return (event.event_type, event.transaction_source, (event.comments or "").strip())


def holds_event(prospect: Prospect, event: Event) -> bool:
    """ResMan already holds this event of ours (a retried push whose first attempt got
    through): same type, source and comments."""
    return any(_key(e) == _key(event) for e in prospect.events)


def is_own_create(
    prospect: Prospect, *, narrative: dict[str, Any], source: str, at: datetime
) -> bool:
    """The prospect is our own earlier create of this very lead (ResMan accepted it, then we
    crashed before storing its id): it holds our first contact with this chat's words."""
    ours = first_contact_event(
        at=at, transaction_source=source, narrative=narrative_from_json(narrative)
    )
    return any(e.first_contact and _key(e) == _key(ours) for e in prospect.events)


def speaks_for(ours: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """What a new chat says about a known person: the values it gives; for those it leaves
    blank, the agreed ones (a chat that does not mention the budget has not cleared it). Its
    status is not a change either: every new chat starts 'new'."""
    said = {name: base.get(name) if is_blank(ours.get(name)) else ours.get(name) for name in ours}
    said["status"] = base.get("status")
    return said


def _differences(values: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    theirs = normalize_snapshot(values, SYNC_FIELDS)
    mine = normalize_snapshot(ours, SYNC_FIELDS)
    return {name: value for name, value in theirs.items() if value != mine.get(name)}


def returning_prospect(
    *,
    ours: LeadFields,
    prospect: Prospect,
    sibling: Sibling | None,
    chat_event: Event,
    rules: MergeRules,
) -> Returning:
    """Link the new conversation ``ours`` to ``prospect`` (see the module docstring)."""
    ids = ProspectIds(str(prospect.prospect_id), prospect.person_id)
    events = [] if holds_event(prospect, chat_event) else [chat_event]
    # ResMan's record as the office left it (a late post of ours may have re-typed it).
    prospect = office_view(prospect, own_source=chat_event.transaction_source)
    customer_type = prospect.lead.customer_type
    theirs = fields_to_json(prospect_fields(prospect))
    mine = fields_to_json(guard_fields(ours))
    if sibling is None:
        filled = fill_blanks(ours, prospect)
        # Status: ResMan's, taken by the conversation; the base keeps ours so that nothing
        # reads the new chat's 'new' as a status change to push.
        agreed = fields_to_json(guard_fields(replace(filled, status=str(theirs["status"]))))
        post = lead_to_prospect(filled, ids=ids, events=events, customer_type=customer_type)
        return Returning(post, agreed, _differences(agreed, mine), None)
    base = sibling.base or theirs
    result = merge(base=base, domiq=speaks_for(mine, base), resman=theirs, rules=rules)
    to_post = set(result.to_resman) - {"status"}
    update: Prospect | None = None
    if to_post or events:
        update = lead_to_prospect(
            restrict(fields_from_json(result.values), to_post),
            ids=ids,
            events=events,
            customer_type=customer_type,
        )
    return Returning(update, result.new_base, _differences(result.values, mine), result)
