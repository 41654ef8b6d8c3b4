"""Request and response shapes of the chat messages and lead history API (issue 11)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, Strict, field_validator, model_validator

from leadsync.leads.schemas import LongText, Number, _Strict

#: Most messages in one request (a longer backlog is sent in several requests).
MAX_MESSAGES_PER_REQUEST = 200
MessageText = Annotated[str, Strict(), Field(min_length=1, max_length=8000)]


class ChatMessageIn(_Strict):
    id: Annotated[str, Strict(), Field(min_length=1, max_length=100)]
    role: Literal["prospect", "assistant"]
    text: MessageText
    sent_at: datetime

    @field_validator("sent_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone offset (e.g. 2026-12-03T14:30:00Z)")
        return value


class ChatMessagesRequest(_Strict):
    """POST /api/resman/leads/{conversation_id}/messages."""

    messages: Annotated[list[ChatMessageIn], Field(max_length=MAX_MESSAGES_PER_REQUEST)] = Field(
        default_factory=list
    )
    #: The chatbot's current summary and score, when they changed (posted as a note).
    transcript_summary: LongText | None = None
    lead_score: Annotated[Number, Field(ge=0, le=100)] | None = None

    @model_validator(mode="after")
    def _something(self) -> ChatMessagesRequest:
        if not self.messages and self.transcript_summary is None and self.lead_score is None:
            raise ValueError("give messages, transcript_summary or lead_score")
        seen: set[str] = set()
        for message in self.messages:
            if message.id in seen:
                raise ValueError(f"message id {message.id!r} appears twice")
            seen.add(message.id)
        return self


class ChatMessagesResponse(BaseModel):
    success: bool
    conversation_id: uuid.UUID
    #: Messages stored by this request (new ids).
    accepted: int
    #: Messages already stored under the same id (a repeated request): ignored.
    duplicates: int
    #: The queued transcript job that will carry them to ResMan (None: no integration).
    transcript_job_id: uuid.UUID | None


class HistoryItem(BaseModel):
    #: chat_message | office_update | status_change | tour | sync
    kind: str
    at: datetime
    data: dict[str, Any]


class HistoryPage(BaseModel):
    conversation_id: uuid.UUID
    page: int
    size: int
    total: int
    items: list[HistoryItem]
