"""The LeadUpdateWebhook body: its model and the validation of a verified delivery (pure).

A body we accept is stored exactly as received (fields a sender adds included), so it must
also be storable: PostgreSQL's jsonb refuses NaN, Infinity and U+0000, and the inbox's
``webhook_id`` is VARCHAR(200).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

#: Longest ``webhook-id`` the inbox stores (``webhook_inbox.webhook_id`` is VARCHAR(200)).
MAX_WEBHOOK_ID_LENGTH: Final = 200


class LeadUpdateWebhook(BaseModel):
    """The spec's LeadUpdateWebhook. Fields a sender adds (the sandbox sends ``person_id``,
    ``property_id``, ``account_id``, ``event_id``, ``modified_at``) are allowed and kept."""

    model_config = ConfigDict(extra="allow")

    lead_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    status: Annotated[str, StringConstraints(max_length=50)]
    updated_fields: dict[str, Any]
    timestamp: AwareDatetime = Field(description="When the change happened (ISO 8601, UTC).")
    updated_by: Annotated[str, StringConstraints(max_length=200)]
    sync_direction: Literal["from_resman"]
    modified_at: AwareDatetime | None = Field(
        default=None,
        description="ResMan's modified time of the prospect, when the sender knows it.",
    )
    property_id: str | None = Field(default=None, description="ResMan's property GUID.")

    @property
    def changed_at(self) -> datetime:
        """The time to compare with what we hold: ResMan's own modified time when given."""
        return self.modified_at or self.timestamp


class MalformedWebhookError(ValueError):
    """A verified delivery whose body we cannot use; ``errors`` name the fields."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        self.detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10])
        super().__init__(self.detail)


@dataclass(frozen=True, slots=True)
class Delivery:
    webhook_id: str
    event: LeadUpdateWebhook
    #: The body as received (extra fields included), stored in the inbox.
    payload: dict[str, Any]


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON, and PostgreSQL's jsonb refuses them.
    raise ValueError(f"{name} is not a JSON value")


def _has_nul(value: Any) -> bool:
    # PostgreSQL text (and so jsonb) cannot hold U+0000. Iterative: the body may nest as
    # deep as the JSON parser allows, deeper than the room left on Python's stack.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _pydantic_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {
            "field": ".".join(str(part) for part in err["loc"]) or "body",
            "message": str(err["msg"]).removeprefix("Value error, "),
        }
        for err in exc.errors()
    ]


def parse_delivery(body: bytes, *, webhook_id: str, resman_property_id: str) -> Delivery:
    """Validate a verified delivery; MalformedWebhookError names what is wrong."""
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH:
        message = f"at most {MAX_WEBHOOK_ID_LENGTH} characters"
        raise MalformedWebhookError([{"field": "webhook-id", "message": message}])
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        message = f"malformed JSON: {exc.msg}"
        raise MalformedWebhookError([{"field": "body", "message": message}]) from None
    except (ValueError, RecursionError) as exc:
        message = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise MalformedWebhookError([{"field": "body", "message": message}]) from None
    try:
        event = LeadUpdateWebhook.model_validate(data)
    except ValidationError as exc:
        raise MalformedWebhookError(_pydantic_errors(exc)) from None
    if _has_nul(data):
        message = "text must not contain NUL characters"
        raise MalformedWebhookError([{"field": "body", "message": message}])
    if event.property_id is not None and (
        event.property_id.strip().casefold() != resman_property_id.strip().casefold()
    ):
        # A relay posting another property's events to this URL: applying them here would
        # only park them forever (this integration's ResMan property cannot see them).
        message = "not the ResMan property of this integration"
        raise MalformedWebhookError([{"field": "property_id", "message": message}])
    return Delivery(webhook_id=webhook_id, event=event, payload=data)


def stored_event(payload: dict[str, Any]) -> LeadUpdateWebhook | None:
    """The event of an inbox row (validated on arrival); None if it no longer validates."""
    try:
        return LeadUpdateWebhook.model_validate(payload)
    except ValidationError:
        return None
