"""How the tenant-isolation test probes each route and WebSocket message type.

Every operation of the app's OpenAPI document must be described in ``ROUTES`` and every
client message type of the WebSocket protocol in ``WS_MESSAGES``; the test fails for one that
is not ("describe route X in ..."), so a route added later is probed from its first day.

A probe is made with the API key of property B and the ids of property A (its lead,
conversation, conflict, dead-letter job, integration):

- ``key``: a route behind an API key. ``refuse`` probes must answer 403 or 404; ``scoped``
  probes (lists, searches, reports over the key's own properties) may answer 2xx. Either
  way the answer must hold none of A's data.
- ``operator``: a route for the operator (its own token): B's API key must be refused.
- ``signed``: authenticated by a signature, not a key: signed with B's secret for A's
  integration, it must be refused.
- ``public``: no credential at all; the answer must still hold none of A's data.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from stack import lead_body

Auth = Literal["key", "operator", "signed", "public"]
Expect = Literal["refuse", "scoped"]


@dataclass(frozen=True)
class World:
    """Property A's things, and the strings that would betray them in an answer."""

    property_id: uuid.UUID
    integration_id: uuid.UUID
    resman_property_id: str
    conversation_id: uuid.UUID
    prospect_id: str
    conflict_id: uuid.UUID
    job_id: uuid.UUID
    pii: tuple[str, ...]  # A's lead: email, last name, phone digits

    def private(self) -> tuple[str, ...]:
        ids = (
            self.property_id,
            self.integration_id,
            self.conversation_id,
            self.prospect_id,
            self.conflict_id,
            self.job_id,
        )
        return (*(str(i) for i in ids), *self.pii)


@dataclass(frozen=True)
class Probe:
    expect: Expect = "refuse"
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class Route:
    auth: Auth
    probes: Callable[[World], list[Probe]] = lambda _: [Probe()]


#: How each path parameter is filled with A's ids (every listed value is probed).
PATH_PARAMS: dict[str, Callable[[World], list[str]]] = {
    "conversation_id": lambda w: [str(w.conversation_id)],
    # A status change names a lead by our conversation id or by ResMan's ProspectID.
    "lead_id": lambda w: [str(w.conversation_id), w.prospect_id],
    "conflict_id": lambda w: [str(w.conflict_id)],
}


def _tomorrow() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


_STATUS = {"status": "contacted", "updated_by": "chatbot", "sync_direction": "to_resman"}
_LEADS = "/api/resman/leads"
_CHAT_LINE = {
    "id": "iso-1",
    "role": "prospect",
    "text": "Is parking included?",
    "sent_at": "2026-12-01T10:00:00+00:00",
}

ROUTES: dict[str, Route] = {
    f"POST {_LEADS}": Route("key", lambda w: [Probe(body=lead_body(w.property_id, n=901))]),
    f"PATCH {_LEADS}/{{conversation_id}}": Route(
        "key", lambda w: [Probe(body={"move_in_date": "2027-05-01"})]
    ),
    f"POST {_LEADS}/{{conversation_id}}/tours": Route(
        "key", lambda w: [Probe(body={"tour_datetime": _tomorrow()})]
    ),
    f"GET {_LEADS}/{{conversation_id}}/context": Route("key"),
    f"POST {_LEADS}/{{conversation_id}}/messages": Route(
        "key", lambda w: [Probe(body={"messages": [_CHAT_LINE]})]
    ),
    f"GET {_LEADS}/{{conversation_id}}/history": Route("key"),
    f"PUT {_LEADS}/{{lead_id}}/status": Route("key", lambda w: [Probe(body=_STATUS)]),
    f"POST {_LEADS}/merge": Route(
        "key",
        lambda w: [
            Probe(
                body={
                    "resman_lead_id": w.prospect_id,
                    "domiq_conversation_id": str(w.conversation_id),
                    "merge_strategy": "resman_wins",
                    "merge_fields": ["email"],
                }
            )
        ],
    ),
    f"GET {_LEADS}/pull": Route(
        "key",
        lambda w: [
            Probe(query={"property_id": str(w.property_id)}),
            Probe(query={"property_id": str(w.property_id), "include_conversations": "true"}),
        ],
    ),
    f"GET {_LEADS}/lookup": Route(
        "key",
        lambda w: [
            Probe(query={"email": w.pii[0], "property_id": str(w.property_id)}),
            Probe("scoped", query={"email": w.pii[0]}),
            Probe("scoped", query={"phone": w.pii[2]}),
        ],
    ),
    "GET /api/resman/conflicts": Route(
        "key", lambda w: [Probe("scoped"), Probe("scoped", query={"status": "open"})]
    ),
    "GET /api/resman/conflicts/{conflict_id}": Route("key"),
    "POST /api/resman/conflicts/{conflict_id}/resolve": Route(
        "key", lambda w: [Probe(body={"pick": "domiq"})]
    ),
    "POST /api/resman/conflicts/{conflict_id}/dismiss": Route("key", lambda w: [Probe(body={})]),
    "GET /api/resman/queue/dead-letters": Route("key", lambda w: [Probe("scoped")]),
    "POST /api/resman/queue/dead-letters/retry": Route(
        "key",
        lambda w: [Probe(body={"job_ids": [str(w.job_id)]}), Probe("scoped", body={})],
    ),
    "GET /api/resman/report": Route("key", lambda w: [Probe("scoped")]),
    "POST /api/resman/webhooks/lead-update": Route("signed"),
    "GET /metrics": Route("operator"),
    "GET /healthz": Route("public"),
}

#: The WebSocket's client messages: what B's connection sends with A's ids. ``subscribe``
#: is the connection itself (the URL's ``property_id`` or a first ``subscribe`` message);
#: every other type is a change sent on B's own subscription and must be answered with an
#: ``error`` of status 403/404.
WS_MESSAGES: dict[str, Callable[[World], list[dict[str, Any]]]] = {
    "subscribe": lambda w: [{"property_id": str(w.property_id)}],
    "new_lead": lambda w: [lead_body(w.property_id, n=902)],
    "lead_update": lambda w: [
        {"conversation_id": str(w.conversation_id), "move_in_date": "2027-06-01"}
    ],
    "status_change": lambda w: [{"lead_id": lead, **_STATUS} for lead in PATH_PARAMS["lead_id"](w)],
    "chat_messages": lambda w: [
        {"conversation_id": str(w.conversation_id), "messages": [_CHAT_LINE]}
    ],
}
