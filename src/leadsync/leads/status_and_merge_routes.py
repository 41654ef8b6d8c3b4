"""PUT /api/resman/leads/{lead_id}/status and POST /api/resman/leads/merge."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request

from leadsync.api.deps import ERRORS, PROBLEM, PrincipalDep, SessionDep, runtime_of
from leadsync.db.session import begin_read
from leadsync.db.types import utcnow
from leadsync.leads import merge_flow, status
from leadsync.leads.after_commit import first_attempt
from leadsync.leads.status_schemas import (
    MergeLeadsRequest,
    MergeLeadsResponse,
    SyncConflictOut,
    UpdateLeadStatusRequest,
    UpdateLeadStatusResponse,
)
from leadsync.mapping.lost_reasons import choose_lost_reason
from leadsync.merge import FieldOutcome
from leadsync.resman.errors import ResManError
from leadsync.sync.queue.targets import integration_of_property

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from leadsync.db.models import Conversation

    # The runtime wires every layer together; those that only use it import it for types
    # alone, so no import runs back up to it (see pyproject's import contracts).
    from leadsync.runtime import Runtime

router = APIRouter(prefix="/api/resman", tags=["leads"])


def _out(outcome: FieldOutcome) -> SyncConflictOut:
    resolution = outcome.resolution or "manual_review"
    return SyncConflictOut(
        field=outcome.field,
        resman_value=outcome.resman,
        domiq_value=outcome.domiq,
        resolution=resolution,
    )


async def _lost_reason_report(
    rt: Runtime, session: AsyncSession, *, conv: Conversation, body: UpdateLeadStatusRequest
) -> tuple[str | None, list[str]]:
    """For a lead marked lost by DomIQ: the lost reason the push posts (the same choice
    from the same cached lookup) and, when it is not the caller's, why."""
    if body.sync_direction != "to_resman" or not body.status == conv.status == "lost":
        return None, []
    integration = await integration_of_property(session, property_id=conv.property_id)
    if integration is None:
        return None, []
    try:
        target = await rt.targets.get(session, integration_id=integration.id)
    except ResManError:
        return None, ["ResMan's lost reasons could not be read now; the push matches it later"]
    choice = choose_lost_reason(body.lost_reason, target.lost_reasons)
    return choice.name, [choice.warning] if choice.warning else []


@router.put(
    "/leads/{lead_id}/status",
    response_model=UpdateLeadStatusResponse,
    responses=ERRORS,
    summary="Change a lead's status (DomIQ -> ResMan, or a ResMan change relayed to DomIQ)",
)
async def update_status(
    lead_id: str,
    body: UpdateLeadStatusRequest,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> UpdateLeadStatusResponse:
    """``lead_id`` is the DomIQ conversation id or the ResMan ProspectID (resman_lead_id)."""
    rt = runtime_of(request)
    change = await status.change_status(session, principal=principal, lead_id=lead_id, body=body)
    conversation_id = change.conv.id
    conflicts = [_out(o) for o in change.conflicts + change.resolved]
    await session.commit()
    await session.close()
    if change.job_id is not None:
        await first_attempt(rt, change.job_id)
    async with rt.sessionmaker() as fresh:
        await begin_read(fresh)
        conv, link = await status.find_lead(
            fresh, principal=principal, lead_id=str(conversation_id)
        )
        for row in await status.open_status_conflicts(fresh, conversation_id=conv.id):
            if not any(c.field == "status" for c in conflicts):
                conflicts.append(
                    SyncConflictOut(
                        field="status",
                        resman_value=row.resman_value,
                        domiq_value=row.domiq_value,
                        resolution="manual_review",
                    )
                )
        if body.sync_direction == "to_resman" and conv.status != body.status and not conflicts:
            # The push's merge kept the office's status (status priority or resman_wins).
            conflicts.append(
                SyncConflictOut(
                    field="status",
                    resman_value=conv.status,
                    domiq_value=body.status,
                    resolution="resman_wins",
                )
            )
        lost_reason_used, warnings = await _lost_reason_report(rt, fresh, conv=conv, body=body)
        return UpdateLeadStatusResponse(
            lost_reason_used=lost_reason_used,
            warnings=warnings,
            success=True,
            new_status=conv.status,
            updated_at=conv.updated_at or utcnow(),
            sync_conflicts=conflicts,
            conversation_updated=True,
            conversation_id=conv.id,
            resman_lead_id=link.resman_prospect_id if link else None,
        )


@router.post(
    "/leads/merge",
    response_model=MergeLeadsResponse,
    responses={**ERRORS, 502: PROBLEM, 503: PROBLEM},
    summary="Link a ResMan prospect and a DomIQ conversation that are the same person",
)
async def merge_leads(
    body: MergeLeadsRequest, request: Request, session: SessionDep, principal: PrincipalDep
) -> MergeLeadsResponse:
    rt = runtime_of(request)
    outcome = await merge_flow.merge_with_resman(rt, session, principal=principal, body=body)
    await session.commit()
    rt.worker.wake()
    return MergeLeadsResponse(
        success=True,
        merged_lead_id=outcome.prospect_id,
        conflicts_resolved=outcome.conflicts_resolved,
        merge_summary=outcome.summary,
        sync_log_id=outcome.sync_log_id,
    )
