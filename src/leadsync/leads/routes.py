"""Routes of the leads API: create, update, book a tour (all go through the push queue)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Header, Request, Response

from leadsync.api.deps import ERRORS, PrincipalDep, SessionDep, runtime_of
from leadsync.db.types import utcnow
from leadsync.leads import service
from leadsync.leads.after_commit import after_commit
from leadsync.leads.schemas import (
    CreateLeadRequest,
    CreateLeadResponse,
    TourRequest,
    UpdateLeadRequest,
    UpdateResponse,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    # The runtime wires every layer together; those that only use it import it for types
    # alone, so no import runs back up to it (see pyproject's import contracts).
    from leadsync.runtime import Runtime

router = APIRouter(prefix="/api/resman", tags=["leads"])


async def _finish(
    rt: Runtime, session: AsyncSession, accepted: service.AcceptedLead
) -> service.LeadSyncState:
    await session.commit()
    # Release the request's connection (on SQLite: its write lock) before waiting on the push.
    await session.close()
    return await after_commit(rt, conversation_id=accepted.conversation_id, job_id=accepted.job_id)


@router.post(
    "/leads",
    response_model=CreateLeadResponse,
    status_code=201,
    responses={**ERRORS, 200: {"model": CreateLeadResponse, "description": "already known"}},
    summary="Accept a chatbot lead and push it to ResMan",
)
async def create_lead(
    body: CreateLeadRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> CreateLeadResponse:
    """Stores the lead, queues its push and waits briefly for the first attempt.

    Posting the same ``conversation_id`` again, or repeating an ``Idempotency-Key``, returns
    the same lead (200) and never creates a second ResMan prospect.
    """
    rt = runtime_of(request)
    accepted = await service.accept_lead(
        session, principal=principal, body=body, idempotency_key=idempotency_key
    )
    state = await _finish(rt, session, accepted)
    if not accepted.created:
        response.status_code = 200
    return CreateLeadResponse(
        success=state.sync_status != "failed",
        resman_lead_id=state.resman_lead_id,
        sync_status=state.sync_status,
        created_at=accepted.created_at,
        sync_log_id=accepted.sync_log_id,
        conversation_id=accepted.conversation_id,
    )


def _update_response(
    accepted: service.AcceptedLead, state: service.LeadSyncState, updated_at: datetime
) -> UpdateResponse:
    return UpdateResponse(
        success=state.sync_status != "failed",
        conversation_id=accepted.conversation_id,
        resman_lead_id=state.resman_lead_id,
        sync_status=state.sync_status,
        sync_log_id=accepted.sync_log_id,
        updated_at=updated_at,
    )


@router.patch(
    "/leads/{conversation_id}",
    response_model=UpdateResponse,
    responses=ERRORS,
    summary="Change a lead's contact details or preferences",
)
async def update_lead(
    conversation_id: uuid.UUID,
    body: UpdateLeadRequest,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> UpdateResponse:
    rt = runtime_of(request)
    accepted = await service.update_lead(
        session, principal=principal, conversation_id=conversation_id, body=body
    )
    state = await _finish(rt, session, accepted)
    return _update_response(accepted, state, utcnow())


@router.post(
    "/leads/{conversation_id}/tours",
    response_model=UpdateResponse,
    status_code=201,
    responses=ERRORS,
    summary="Record a tour booked by the chatbot (an Appointment event in ResMan, UTC)",
)
async def book_tour(
    conversation_id: uuid.UUID,
    body: TourRequest,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> UpdateResponse:
    rt = runtime_of(request)
    accepted = await service.book_tour(
        session, principal=principal, conversation_id=conversation_id, body=body
    )
    state = await _finish(rt, session, accepted)
    return _update_response(accepted, state, utcnow())
