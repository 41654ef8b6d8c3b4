"""Reading ResMan's HTTP 200 answers: envelope status, item lists, unreadable bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leadsync.resman.errors import (
    AuthenticationError,
    BusinessError,
    ResponseFormatError,
    UnsafeAnswerError,
)
from leadsync.resman.mits import build_envelope
from leadsync.resman.models import (
    Customer,
    Employee,
    Envelope,
    Identification,
    NamedItem,
    PersonStatus,
    PropertyInfo,
    Prospect,
)
from leadsync.resman.responses import (
    posted_prospect,
    read_account_id,
    read_employees,
    read_json_envelope,
    read_mits_envelope,
    read_named_items,
    read_people,
    read_properties,
)

METHOD = "Leasing/GetProspectSources"


def ok(**fields: Any) -> bytes:
    return json.dumps({"MethodName": "X", "Status": "Success", **fields}).encode()


def test_named_items() -> None:
    body = ok(ProspectSources=[{"ID": 7, "Name": "Chatbot"}, {"ID": "8", "Name": "Zillow"}])
    assert read_named_items(body, method=METHOD, key="ProspectSources") == [
        NamedItem(id="7", name="Chatbot"),
        NamedItem(id="8", name="Zillow"),
    ]


def test_keys_match_case_insensitively_and_missing_list_is_empty() -> None:
    body = json.dumps({"status": "Success", "prospectsources": [{"id": "1", "name": "A"}]})
    assert read_named_items(body.encode(), method=METHOD, key="ProspectSources") == [
        NamedItem(id="1", name="A")
    ]
    assert read_named_items(ok(), method=METHOD, key="ProspectSources") == []


def test_employees_people_properties_account() -> None:
    employees = ok(Employees=[{"ID": "e1", "Name": "Agent A", "Email": None}])
    assert read_employees(employees, method=METHOD) == [Employee(id="e1", name="Agent A")]
    people = ok(People=[{"PersonID": "p1", "Status": "Pending"}])
    assert read_people(people, method=METHOD) == [PersonStatus(person_id="p1", status="Pending")]
    props = ok(Properties=[{"PropertyID": "g1", "Name": "Elm"}])
    assert read_properties(props, method=METHOD) == [PropertyInfo(property_id="g1", name="Elm")]
    assert read_account_id(ok(AccountID="400"), method=METHOD) == 400


@pytest.mark.parametrize("status", ["Failed", "Error"])
def test_failed_status_is_classified(status: str) -> None:
    body = json.dumps({"Status": status, "ErrorDescription": "Property not found"}).encode()
    with pytest.raises(BusinessError) as info:
        read_json_envelope(body, method=METHOD)
    assert info.value.category == "not_found"
    bad = json.dumps({"Status": status, "ErrorDescription": "Invalid credentials"}).encode()
    with pytest.raises(AuthenticationError):
        read_json_envelope(bad, method=METHOD)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 Bad Gateway</html>",
        b'{"Status": "Succ',
        b"[1, 2]",
        b"\xff\xfe\x00",
        ok(ProspectSources={"ID": "1"}),
        ok(ProspectSources=[{"ID": "1"}]),
        ok(ProspectSources=[{"ID": ["1"], "Name": "A"}]),
    ],
)
def test_unreadable_answers_are_format_errors(body: bytes) -> None:
    with pytest.raises(ResponseFormatError) as info:
        read_named_items(body, method=METHOD, key="ProspectSources")
    assert info.value.retryable
    assert str(info.value).startswith(METHOD)


@pytest.mark.parametrize("value", [None, "x", True])
def test_account_id_must_be_a_number(value: object) -> None:
    with pytest.raises(ResponseFormatError):
        read_account_id(ok(AccountID=value), method=METHOD)


def _prospect(*ids: tuple[str, str]) -> Prospect:
    return Prospect(
        customers=(Customer(identifications=tuple(Identification(t, v) for t, v in ids)),)
    )


def test_posted_prospect_needs_both_ids() -> None:
    full = _prospect(("ProspectID", "pr-1"), ("PersonID", "pe-1"))
    envelope = Envelope(method_name="PostLeadManagement4_0", status="Success", prospects=(full,))
    assert posted_prospect(envelope, method="MITS/PostLeadManagement4_0") is full
    for lacking in (_prospect(("ProspectID", "pr-1")), Prospect()):
        envelope = Envelope(method_name="P", status="Success", prospects=(lacking,))
        with pytest.raises(ResponseFormatError):
            posted_prospect(envelope, method="MITS/PostLeadManagement4_0")
    with pytest.raises(ResponseFormatError):
        posted_prospect(Envelope(method_name="P", status="Success"), method="M")


def _mits(envelope: Envelope) -> bytes:
    return build_envelope(envelope)


def test_mits_success_envelope_carries_prospects() -> None:
    prospect = _prospect(("ProspectID", "pr-1"), ("PersonID", "pe-1"))
    body = _mits(Envelope(method_name="SearchProspects", status="Success", prospects=(prospect,)))
    envelope = read_mits_envelope(body, method="MITS/SearchProspects")
    assert [p.prospect_id for p in envelope.prospects] == ["pr-1"]


@pytest.mark.parametrize(
    ("description", "error", "category"),
    [
        ("Transaction Source could not be found", BusinessError, "transaction_source"),
        ("Invalid credentials", AuthenticationError, None),
    ],
)
def test_mits_error_envelope_is_classified(
    description: str, error: type[Exception], category: str | None
) -> None:
    body = _mits(Envelope(method_name="X", status="Error", error_description=description))
    with pytest.raises(error) as info:
        read_mits_envelope(body, method="MITS/PostLeadManagement4_0")
    assert getattr(info.value, "category", None) == category


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Bad gateway</body></html>",
        b"<ResMan><Status>Succ",
        b"",
    ],
)
def test_unreadable_mits_answers_are_format_errors(body: bytes) -> None:
    with pytest.raises(ResponseFormatError):
        read_mits_envelope(body, method="MITS/SearchProspects")


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><ResMan>&a;</ResMan>',
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><ResMan>&x;</ResMan>',
    ],
)
def test_unsafe_xml_answers_are_refused_as_permanent(body: bytes) -> None:
    # An XML bomb or external entity is not a garbled answer to retry: it is named, and
    # permanent (it used to be a vague, transient ResponseFormatError).
    with pytest.raises(UnsafeAnswerError, match=r"unsafe XML \(DOCTYPE/entity\) refused") as info:
        read_mits_envelope(body, method="MITS/SearchProspects")
    assert not info.value.retryable
    assert not isinstance(info.value, ResponseFormatError)
