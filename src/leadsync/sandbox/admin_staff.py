"""Prospects in the admin API: listing, staff-created and bulk prospects, and the on-site
staff actions (status, notes, tours, lost, reactivate, contact edits).

Each staff action changes the prospect the way ResMan's UI would (see staff.py) and is
announced by a signed LeadUpdateWebhook (when a target is set) and on the feed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from leadsync.resman.models import Employee, Prospect
from leadsync.sandbox import staff
from leadsync.sandbox.admin_deps import SandboxDep
from leadsync.sandbox.admin_models import (
    BulkIn,
    BulkOut,
    CommentIn,
    ContactIn,
    LostIn,
    NewProspectIn,
    NoteIn,
    ProspectList,
    ProspectOut,
    StatusIn,
    TourIn,
    UtcDateTime,
)
from leadsync.sandbox.seed import WALK_IN_SOURCE_NAME
from leadsync.sandbox.service import Invalid, Sandbox

#: A staff edit given the prospect, the moment of the change and the acting employee.
AgentEdit = Callable[[Prospect, datetime, Employee | None], staff.StaffEdit]

router = APIRouter(prefix="/admin", tags=["sandbox admin: prospects and staff actions"])


@router.get("/properties/{property_id}/prospects", response_model=ProspectList)
async def list_prospects(
    property_id: str,
    sandbox: SandboxDep,
    modified_since: Annotated[
        UtcDateTime | None, Query(description="Only prospects modified at or after this.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="Oldest change first.")] = 1000,
) -> ProspectList:
    prop = sandbox.property(property_id)
    records = sandbox.state.prospects(prop.property_id).modified_since(modified_since)
    return ProspectList(total=len(records), prospects=[ProspectOut.of(r) for r in records[:limit]])


@router.get("/properties/{property_id}/prospects/{prospect_id}", response_model=ProspectOut)
async def get_prospect(property_id: str, prospect_id: str, sandbox: SandboxDep) -> ProspectOut:
    return ProspectOut.of(sandbox.record(sandbox.property(property_id), prospect_id))


@router.post(
    "/properties/{property_id}/prospects",
    response_model=ProspectOut,
    status_code=status.HTTP_201_CREATED,
)
async def create_prospect(
    property_id: str, body: NewProspectIn, sandbox: SandboxDep
) -> ProspectOut:
    """A prospect entered by staff (walk-in, phone, ILS): announced as "new_lead"."""
    prop = sandbox.property(property_id)
    agent = sandbox.agent(prop, body.agent_id)
    source = sandbox.prospect_source(prop, body.source, default=WALK_IN_SOURCE_NAME)

    def build(when: datetime) -> Prospect:
        return staff.new_walk_in(
            first_name=body.first_name,
            last_name=body.last_name,
            email=body.email,
            phone=body.phone,
            source=source,
            agent=agent,
            when=when,
        )

    return ProspectOut.of(sandbox.staff_create(prop=prop, build=build, agent=agent).record)


@router.post(
    "/properties/{property_id}/prospects/bulk",
    response_model=BulkOut,
    status_code=status.HTTP_201_CREATED,
)
async def bulk_create(property_id: str, body: BulkIn, sandbox: SandboxDep) -> BulkOut:
    """N prospects modified at random whole seconds in [modified_from, modified_to), for pull
    tests and benchmarks. Nothing is announced (no feed, no webhooks)."""
    prop = sandbox.property(property_id)
    records = sandbox.bulk_create(
        prop=prop,
        count=body.count,
        start=body.modified_from,
        end=body.modified_to,
        seed=body.seed,
    )
    return BulkOut(property_id=prop.property_id, created=len(records))


def _staff(
    sandbox: Sandbox,
    property_id: str,
    prospect_id: str,
    agent_id: str | None,
    edit: AgentEdit,
) -> ProspectOut:
    prop = sandbox.property(property_id)
    agent = sandbox.agent(prop, agent_id)
    change = sandbox.staff_edit(
        prop=prop,
        prospect_id=prospect_id,
        edit=lambda prospect, when: edit(prospect, when, agent),
        agent=agent,
    )
    return ProspectOut.of(change.record)


_PROSPECT = "/properties/{property_id}/prospects/{prospect_id}"


@router.post(f"{_PROSPECT}/status", response_model=ProspectOut)
async def change_status(
    property_id: str, prospect_id: str, body: StatusIn, sandbox: SandboxDep
) -> ProspectOut:
    """Set Customer@Type and record an event (the given type, or the one the type implies)."""
    return _staff(
        sandbox,
        property_id,
        prospect_id,
        body.agent_id,
        lambda p, when, agent: staff.set_status(
            p,
            customer_type=body.customer_type,
            event_type=body.event_type,
            comments=body.comments,
            agent=agent,
            when=when,
        ),
    )


@router.post(f"{_PROSPECT}/notes", response_model=ProspectOut)
async def add_note(
    property_id: str, prospect_id: str, body: NoteIn, sandbox: SandboxDep
) -> ProspectOut:
    """An Other event carrying the note as Comments."""
    return _staff(
        sandbox,
        property_id,
        prospect_id,
        body.agent_id,
        lambda p, when, agent: staff.add_note(p, text=body.text, agent=agent, when=when),
    )


@router.post(f"{_PROSPECT}/tours", response_model=ProspectOut)
async def book_tour(
    property_id: str, prospect_id: str, body: TourIn, sandbox: SandboxDep
) -> ProspectOut:
    """An Appointment event dated at the tour's start (UTC)."""
    return _staff(
        sandbox,
        property_id,
        prospect_id,
        body.agent_id,
        lambda p, _when, agent: staff.book_tour(
            p, start=body.start, comments=body.comments, agent=agent
        ),
    )


@router.post(f"{_PROSPECT}/tours/complete", response_model=ProspectOut)
async def complete_tour(
    property_id: str, prospect_id: str, body: CommentIn, sandbox: SandboxDep
) -> ProspectOut:
    """A Show event: the tour took place."""
    return _staff(
        sandbox,
        property_id,
        prospect_id,
        body.agent_id,
        lambda p, when, agent: staff.complete_tour(
            p, comments=body.comments, agent=agent, when=when
        ),
    )


@router.post(f"{_PROSPECT}/lost", response_model=ProspectOut)
async def mark_lost(
    property_id: str, prospect_id: str, body: LostIn, sandbox: SandboxDep
) -> ProspectOut:
    """Type lost plus a Cancel event with EventReasons "Prospect Lost: <reason>"."""
    if body.reason_id is None and body.reason is None:
        raise Invalid("give reason_id or reason")
    reason = sandbox.lost_reason(
        sandbox.property(property_id), reason_id=body.reason_id, reason=body.reason
    )
    return _staff(
        sandbox,
        property_id,
        prospect_id,
        body.agent_id,
        lambda p, when, agent: staff.mark_lost(p, reason=reason, agent=agent, when=when),
    )


@router.post(f"{_PROSPECT}/reactivate", response_model=ProspectOut)
async def reactivate(
    property_id: str, prospect_id: str, body: CommentIn, sandbox: SandboxDep
) -> ProspectOut:
    """A ReActivate event; the type goes back to prospect."""
    return _staff(
        sandbox,
        property_id,
        prospect_id,
        body.agent_id,
        lambda p, when, agent: staff.reactivate(p, comments=body.comments, agent=agent, when=when),
    )


@router.post(f"{_PROSPECT}/contact", response_model=ProspectOut)
async def edit_contact(
    property_id: str, prospect_id: str, body: ContactIn, sandbox: SandboxDep
) -> ProspectOut:
    """Staff edits contact fields (omitted ones stay); no event is recorded."""
    return _staff(
        sandbox,
        property_id,
        prospect_id,
        body.agent_id,
        lambda p, _when, _agent: staff.edit_contact(
            p,
            first_name=body.first_name,
            last_name=body.last_name,
            email=body.email,
            phone=body.phone,
        ),
    )
