"""The WebSocket protocol's pure parts: what counts as a protocol violation, which fields an
invalid message names, and the shape of what the server sends."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from leadsync.api.problems import ProblemError
from leadsync.realtime.protocol import (
    CLOSE_PROTOCOL,
    CloseConnection,
    LeadUpdate,
    NewLead,
    StatusChange,
    decode,
    error_text,
    event_text,
    message_id_of,
    parse_command,
    parse_envelope,
    parse_subscribe,
    system_text,
)
from leadsync.telemetry.logging import redact_text
from stack import lead_body


def _command(message: Any) -> Any:
    return parse_command(parse_envelope(message))


def _problem(message: Any) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        _command(message)
    return caught.value


def _fields(problem: ProblemError) -> set[str]:
    return {e["field"] for e in problem.errors or []}


@pytest.mark.parametrize("text", ["not json", "{", ""])
def test_text_that_is_not_json_breaks_the_protocol(text: str) -> None:
    with pytest.raises(CloseConnection) as caught:
        decode(text)
    assert caught.value.code == CLOSE_PROTOCOL


@pytest.mark.parametrize("raw", [[1, 2], "text", 3, None])
def test_json_that_is_not_an_object_is_answered_with_an_error(raw: Any) -> None:
    problem = _problem(raw)
    assert problem.status == 400
    assert _fields(problem) == {"message"}


def test_unknown_type_names_the_type_field() -> None:
    problem = _problem({"type": "delete_everything", "data": {}})
    assert problem.status == 400
    assert _fields(problem) == {"type"}
    assert "new_lead" in problem.detail


def test_envelope_errors_name_their_fields() -> None:
    problem = _problem({"type": "new_lead", "id": [1], "data": "x", "extra": 1})
    assert problem.status == 422
    assert {"data", "extra"} <= _fields(problem)
    assert any(field.startswith("id") for field in _fields(problem))


def test_new_lead_is_validated_like_the_http_api() -> None:
    body = lead_body(uuid.uuid4())
    command = _command({"type": "new_lead", "id": "m1", "data": body})
    assert isinstance(command, NewLead)
    assert command.body.lead_data.email == "maria.gomez@gmail.com"
    body["lead_data"] = {**body["lead_data"], "email": "nope", "lead_score": "85"}
    del body["lead_data"]["last_name"]
    problem = _problem({"type": "new_lead", "data": body})
    assert problem.status == 422
    assert _fields(problem) == {
        "data.lead_data.email",
        "data.lead_data.lead_score",
        "data.lead_data.last_name",
    }


def test_lead_update_needs_a_conversation_id_and_a_field() -> None:
    target = uuid.uuid4()
    command = _command(
        {"type": "lead_update", "data": {"conversation_id": str(target), "lead_score": 40}}
    )
    assert isinstance(command, LeadUpdate)
    assert (command.conversation_id, command.body.lead_score) == (target, 40)
    problem = _problem({"type": "lead_update", "data": {"phone": "12"}})
    assert _fields(problem) == {"data.conversation_id", "data.phone"}
    empty = _problem({"type": "lead_update", "data": {"conversation_id": str(target)}})
    assert _fields(empty) == {"data"}  # "at least one field must be given"


def test_status_change_takes_the_status_request() -> None:
    data = {
        "lead_id": "P-1",
        "status": "qualified",
        "updated_by": "chatbot",
        "sync_direction": "to_resman",
    }
    command = _command({"type": "status_change", "data": data})
    assert isinstance(command, StatusChange)
    assert (command.lead_id, command.body.status) == ("P-1", "qualified")
    problem = _problem({"type": "status_change", "data": {**data, "status": "married"}})
    assert _fields(problem) == {"data.status"}


def test_subscribe_message() -> None:
    prop = uuid.uuid4()
    target = parse_subscribe(
        parse_envelope({"type": "subscribe", "data": {"property_id": str(prop), "since": 4}})
    )
    assert (target.property_id, target.since) == (prop, 4)
    for bad in ({"type": "new_lead", "data": {}}, {"type": "subscribe", "data": {"since": -1}}):
        with pytest.raises(CloseConnection) as caught:
            parse_subscribe(parse_envelope(bad))
        assert caught.value.code == CLOSE_PROTOCOL


def test_message_id_is_echoed_only_when_usable() -> None:
    assert message_id_of({"id": "abc"}) == "abc"
    assert message_id_of({"id": 7}) == 7
    assert message_id_of({"id": True}) is None
    assert message_id_of({"id": "x" * 101}) is None
    assert message_id_of([1]) is None


def test_event_message_has_the_spec_shape() -> None:
    prop = uuid.uuid4()
    created = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    message = json.loads(
        event_text(
            sequence=9,
            event_type="status_change",
            source="resman",
            property_id=prop,
            data={"status": "leased"},
            created_at=created,
        )
    )
    assert message == {
        "type": "status_change",
        "data": {"status": "leased"},
        "timestamp": "2026-11-25T12:00:00+00:00",
        "source": "resman",
        "property_id": str(prop),
        "sequence": 9,
    }


def test_ack_and_error_echo_the_id() -> None:
    ack = json.loads(system_text("ack", {"sync_status": "success"}, message_id=3))
    assert (ack["type"], ack["id"], ack["source"]) == ("ack", 3, "system")
    problem = ProblemError(404, "Unknown lead", "no lead", errors=[{"field": "x", "message": "y"}])
    error = json.loads(error_text(problem, message_id="q"))
    assert error["id"] == "q"
    assert error["data"] == {
        "title": "Unknown lead",
        "status": 404,
        "detail": "no lead",
        "errors": [{"field": "x", "message": "y"}],
    }
    assert "id" not in json.loads(system_text("heartbeat", {"status": "ping"}))


def test_a_key_in_the_query_is_masked_in_access_log_lines() -> None:
    # Browsers pass the key as ?token=; uvicorn logs the path with its query string.
    key = "lsk_3488ac66_dRnP2yKjWUpnUWd1G4yioHb7nyRjS9OLJHNbWOrPnD0"
    path = f"/api/resman/sync/websocket?property_id={uuid.uuid4()}&token={key}"
    line = f'127.0.0.1:5 - "WebSocket {path}" [accepted]'
    assert key not in redact_text(line)
