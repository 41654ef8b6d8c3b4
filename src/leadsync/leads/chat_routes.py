"""Routes of the chat transcript and the lead history (issue 11)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from leadsync.api.deps import ERRORS, PrincipalDep, SessionDep, runtime_of
from leadsync.leads.chat_schemas import ChatMessagesRequest, ChatMessagesResponse, HistoryPage
from leadsync.leads.chat_service import accept_messages
from leadsync.leads.history import lead_history

router = APIRouter(prefix="/api/resman", tags=["leads"])


@router.post(
    "/leads/{conversation_id}/messages",
    response_model=ChatMessagesResponse,
    status_code=202,
    responses=ERRORS,
    summary="Add chatbot messages; they reach ResMan as batched transcript events",
)
async def post_messages(
    conversation_id: uuid.UUID,
    body: ChatMessagesRequest,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> ChatMessagesResponse:
    """Idempotent by message id: a message posted again is counted as a duplicate."""
    rt = runtime_of(request)
    accepted = await accept_messages(
        session,
        principal=principal,
        conversation_id=conversation_id,
        body=body,
        window_seconds=rt.settings.transcript_batch_seconds,
    )
    await session.commit()
    return ChatMessagesResponse(
        success=True,
        conversation_id=accepted.conversation_id,
        accepted=accepted.accepted,
        duplicates=accepted.duplicates,
        transcript_job_id=accepted.job_id,
    )


@router.get(
    "/leads/{conversation_id}/history",
    response_model=HistoryPage,
    responses=ERRORS,
    summary="The lead's merged timeline (chat, office updates, status, tours, sync), newest first",
)
async def get_history(
    conversation_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> HistoryPage:
    return await lead_history(
        session, principal=principal, conversation_id=conversation_id, page=page, size=size
    )
