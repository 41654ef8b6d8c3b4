"""Routes of the leads API: create, update, book a tour (all go through the push queue)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.api.auth import Principal, authenticate, bearer_token
from leadsync.db.session import read_session
from leadsync.db.types import utcnow
from leadsync.leads import service
from leadsync.leads.schemas import (
    CreateLeadRequest,
    CreateLeadResponse,
    TourRequest,
    UpdateLeadRequest,
    UpdateResponse,
)
from leadsync.runtime import Runtime
from leadsync.sync.flags import push_paused

router = APIRouter(prefix="/api/resman", tags=["leads"])

PROBLEM: dict[str, object] = {"description": "problem+json (RFC 9457)"}
ERRORS: dict[int | str, dict[str, object]] = {
    400: PROBLEM,
    401: PROBLEM,
    403: PROBLEM,
    404: PROBLEM,
    409: PROBLEM,
    413: PROBLEM,
    422: PROBLEM,
}


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def session_dep(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the route commits at its end (the boundary)."""
    async with runtime_of(request).sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(session_dep)]


async def principal_dep(
    request: Request,
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    token = bearer_token(authorization)
    return await authenticate(session, token=token, cache=runtime_of(request).principals)


PrincipalDep = Annotated[Principal, Depends(principal_dep)]


async def first_attempt(rt: Runtime, job_id: uuid.UUID | None) -> None:
    """Try the push now and wait briefly, so the answer usually carries ResMan's id.

    At most ``push_inline_limit`` attempts run at once (sync/inline.py): beyond that, and
    whenever the wait runs out, the client is told ``pending`` and the worker finishes the
    job (an attempt still running completes in the background; its lease protects it).
    """
    if job_id is None:
        return
    async with read_session(rt.sessionmaker) as session:
        if await push_paused(session):
            return
    task = rt.inline.start(job_id)
    if task is None or not await rt.inline.wait(task, within=rt.settings.push_wait_seconds):
        rt.worker.wake()


async def after_commit(
    rt: Runtime, *, conversation_id: uuid.UUID, job_id: uuid.UUID | None
) -> service.LeadSyncState:
    """Once a change is committed: the first push attempt (if it queued one), then the lead's
    sync state, read without taking SQLite's write lock. Shared by HTTP and WebSocket."""
    if job_id is not None:
        await first_attempt(rt, job_id)
    async with read_session(rt.sessionmaker) as session:
        return await service.sync_state(session, conversation_id=conversation_id)


async def _finish(
    rt: Runtime, session: AsyncSession, accepted: service.Accepted
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
    accepted: service.Accepted, state: service.LeadSyncState, updated_at: datetime
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
