"""The wire protocol of ``WS /api/resman/sync/websocket``: what the server sends, what a
client may send, and the close codes (pure: no I/O).

Connecting
    ``ws://host/api/resman/sync/websocket?property_id=<uuid>[&since=<sequence>]`` with the
    API key in ``Authorization: Bearer <key>`` or, for browsers (which cannot set headers on
    a WebSocket), in ``?token=<key>``. Without ``property_id`` the first message must be
    ``{"type": "subscribe", "data": {"property_id": "...", "since": 12}}``. One property per
    connection; the key must be scoped to it.

Server -> client (the spec's RealTimeSyncMessage, plus ``property_id`` and ``sequence``)
    ``{"type": "new_lead"|"lead_update"|"status_change"|"sync_conflict", "data": {...},
    "timestamp": "<ISO 8601, when the change committed>", "source": "domiq"|"resman",
    "property_id": "<uuid>", "sequence": 42}``. Sequences increase; a client keeps the last
    one it saw and reconnects with ``since=<it>`` to be sent exactly what it missed. Also:

    - ``subscribed``: ``data: {property_id, since, latest_sequence}``, once, before any event;
    - ``heartbeat``: ``data: {status: "ping"}``, after a quiet interval (source ``system``);
    - ``ack``: ``id`` echoes the client's, ``data: {conversation_id, resman_lead_id,
      sync_status, ...}``;
    - ``error``: ``id`` echoes the client's, ``data`` mirrors problem+json (RFC 9457):
      ``{title, status, detail, errors: [{field, message}]}``; the connection stays open;
    - ``resync_required``: ``data: {since, oldest_sequence, latest_sequence}``, then close
      4410: the events after ``since`` are no longer in the log; reload the leads, then
      reconnect without ``since`` (or with ``latest_sequence``).

Client -> server (each validated like the HTTP API and applied through the same services
and queue; an optional ``id`` — string or integer — is echoed in the answer)
    - ``{"type": "new_lead", "data": <CreateLeadRequest>}`` (POST /api/resman/leads);
    - ``{"type": "lead_update", "data": {"conversation_id": ..., <UpdateLeadRequest>}}``
      (PATCH /api/resman/leads/{conversation_id});
    - ``{"type": "status_change", "data": {"lead_id": ..., <UpdateLeadStatusRequest>}}``
      (PUT /api/resman/leads/{lead_id}/status);
    - ``{"type": "chat_messages", "data": {"conversation_id": ..., <ChatMessagesRequest>}}``
      (POST /api/resman/leads/{conversation_id}/messages; the ack adds ``accepted``,
      ``duplicates`` and ``transcript_job_id``).

Close codes
    ====  ==================================================================================
    1000  normal closure
    1001  the server is shutting down: reconnect (with ``since``)
    1009  a message larger than the request body limit
    1011  unexpected server error
    1012  the server restarts (sent by uvicorn on shutdown): reconnect (with ``since``)
    4400  protocol violation: a binary frame, text that is not JSON, a bad query parameter,
          or no ``subscribe`` first when the URL names no property
    4401  missing, malformed, invalid or revoked API key
    4403  the API key is not scoped to the requested property
    4408  the client read too slowly and its buffer overflowed: reconnect with ``since``
    4410  ``since`` is older than the retained event log (``resync_required`` said so)
    ====  ==================================================================================

The handshake is always accepted and refusals are sent as close codes, because a browser's
WebSocket API hides the HTTP status of a refused handshake but shows the close code.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from leadsync.api.problems import ProblemError
from leadsync.db.types import utcnow
from leadsync.errors import DomainError
from leadsync.leads.chat_schemas import ChatMessagesRequest
from leadsync.leads.schemas import CreateLeadRequest, UpdateLeadRequest
from leadsync.leads.status_schemas import UpdateLeadStatusRequest

CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
CLOSE_TOO_BIG: Final = 1009
CLOSE_INTERNAL_ERROR: Final = 1011
CLOSE_SERVICE_RESTART: Final = 1012
CLOSE_PROTOCOL: Final = 4400
CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_FORBIDDEN: Final = 4403
CLOSE_TOO_SLOW: Final = 4408
CLOSE_RESYNC: Final = 4410

#: Closes after which reconnecting cannot help (the key or the request must change).
FATAL_CLOSES: Final = frozenset({CLOSE_PROTOCOL, CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN})

COMMAND_TYPES: Final = ("new_lead", "lead_update", "status_change", "chat_messages")

M = TypeVar("M", bound=BaseModel)
ClientId = Annotated[str, Strict(), Field(max_length=100)] | Annotated[int, Strict()]


class CloseConnection(Exception):
    """End the connection with ``code`` (a client broke the protocol, was refused, or must
    resync), after sending ``message`` when there is one."""

    def __init__(self, code: int, reason: str, message: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.message = message


# --- server -> client ------------------------------------------------------------------
def _text(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), default=str)


def event_text(
    *,
    sequence: int,
    event_type: str,
    source: str,
    property_id: uuid.UUID | None,
    data: Any,
    created_at: datetime,
) -> str:
    """One logged event as sent to subscribers (serialised once, shared by all of them)."""
    return _text(
        {
            "type": event_type,
            "data": data,
            "timestamp": created_at.isoformat(),
            "source": source,
            "property_id": str(property_id) if property_id else None,
            "sequence": sequence,
        }
    )


def system_text(
    message_type: str, data: dict[str, Any], *, message_id: str | int | None = None
) -> str:
    """A message of the server itself (heartbeat, subscribed, ack, error, resync_required)."""
    message: dict[str, Any] = {"type": message_type}
    if message_type in ("ack", "error"):
        message["id"] = message_id
    message.update(data=data, timestamp=utcnow().isoformat(), source="system")
    return _text(message)


def heartbeat_text() -> str:
    return system_text("heartbeat", {"status": "ping"})


def error_text(problem: DomainError, *, message_id: str | int | None = None) -> str:
    data: dict[str, Any] = {
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "errors": problem.errors or [],
    }
    return system_text("error", data, message_id=message_id)


# --- client -> server ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Subscribe:
    property_id: uuid.UUID
    since: int | None


@dataclass(frozen=True, slots=True)
class NewLead:
    body: CreateLeadRequest


@dataclass(frozen=True, slots=True)
class LeadUpdate:
    conversation_id: uuid.UUID
    body: UpdateLeadRequest


@dataclass(frozen=True, slots=True)
class StatusChange:
    lead_id: str
    body: UpdateLeadStatusRequest


@dataclass(frozen=True, slots=True)
class ChatMessages:
    conversation_id: uuid.UUID
    body: ChatMessagesRequest


Command = NewLead | LeadUpdate | StatusChange | ChatMessages


@dataclass(frozen=True, slots=True)
class Envelope:
    type: str
    id: str | int | None
    data: dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Envelope(_Strict):
    type: Annotated[str, Strict(), Field(min_length=1, max_length=50)]
    id: ClientId | None = None
    data: dict[str, Any]


class _SubscribeData(_Strict):
    property_id: uuid.UUID
    since: Annotated[int, Strict(), Field(ge=0)] | None = None


class _LeadRef(BaseModel):
    conversation_id: uuid.UUID


class _StatusRef(BaseModel):
    lead_id: Annotated[str, Strict(), Field(min_length=1, max_length=100)]


def field_errors(exc: ValidationError, *, prefix: str = "") -> list[dict[str, str]]:
    """pydantic's errors as problem+json ``errors`` entries, fields named as the client
    wrote them (``data.lead_data.email``)."""
    errors = []
    for err in exc.errors():
        path = ".".join(str(part) for part in err.get("loc", ()))
        field = ".".join(part for part in (prefix, path) if part) or "message"
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        errors.append({"field": field, "message": message})
    return errors


def _invalid(errors: list[dict[str, str]]) -> ProblemError:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10])
    return ProblemError(422, "Invalid message", detail, errors=errors)


def decode(text: str) -> Any:
    """The JSON value of a text frame; text that is not JSON breaks the protocol."""
    try:
        return json.loads(text)
    except ValueError:
        raise CloseConnection(CLOSE_PROTOCOL, "messages must be JSON text") from None


def parse_envelope(raw: Any) -> Envelope:
    """``{"type", "id"?, "data"}``; anything else is answered with an error (400/422)."""
    if not isinstance(raw, dict):
        raise ProblemError(
            400,
            "Invalid message",
            "a message must be a JSON object with type and data",
            errors=[{"field": "message", "message": "not a JSON object"}],
        )
    try:
        envelope = _Envelope.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(field_errors(exc)) from None
    return Envelope(envelope.type, envelope.id, envelope.data)


def message_id_of(raw: Any) -> str | int | None:
    """The client's ``id``, when it is usable, so even a rejected envelope is correlated."""
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and len(value) <= 100:
            return value
    return None


def _validated(model: type[M], data: dict[str, Any], errors: list[dict[str, str]]) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors.extend(field_errors(exc, prefix="data"))
        return None


def _take(data: dict[str, Any], key: str) -> dict[str, Any]:
    # Absent stays absent, so the error says "Field required" rather than "invalid UUID".
    return {key: data.pop(key)} if key in data else {}


def parse_subscribe(envelope: Envelope) -> Subscribe:
    if envelope.type != "subscribe":
        raise CloseConnection(CLOSE_PROTOCOL, "the first message must be subscribe")
    errors: list[dict[str, str]] = []
    data = _validated(_SubscribeData, envelope.data, errors)
    if data is None:
        raise CloseConnection(
            CLOSE_PROTOCOL, "invalid subscribe message", error_text(_invalid(errors))
        )
    return Subscribe(data.property_id, data.since)


def parse_command(envelope: Envelope) -> Command:
    """The change a client asks for, validated with the HTTP API's own request models."""
    errors: list[dict[str, str]] = []
    rest = dict(envelope.data)
    if envelope.type == "new_lead":
        body = _validated(CreateLeadRequest, rest, errors)
        if body is not None:
            return NewLead(body)
    elif envelope.type == "lead_update":
        ref = _validated(_LeadRef, _take(rest, "conversation_id"), errors)
        update = _validated(UpdateLeadRequest, rest, errors)
        if ref is not None and update is not None:
            return LeadUpdate(ref.conversation_id, update)
    elif envelope.type == "status_change":
        lead = _validated(_StatusRef, _take(rest, "lead_id"), errors)
        change = _validated(UpdateLeadStatusRequest, rest, errors)
        if lead is not None and change is not None:
            return StatusChange(lead.lead_id, change)
    elif envelope.type == "chat_messages":
        ref = _validated(_LeadRef, _take(rest, "conversation_id"), errors)
        chat = _validated(ChatMessagesRequest, rest, errors)
        if ref is not None and chat is not None:
            return ChatMessages(ref.conversation_id, chat)
    else:
        expected = ", ".join(COMMAND_TYPES)
        raise ProblemError(
            400,
            "Unknown message type",
            f"unknown message type; expected one of: {expected}",
            errors=[{"field": "type", "message": f"must be one of: {expected}"}],
        )
    raise _invalid(errors)
