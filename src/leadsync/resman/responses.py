"""Read ResMan's HTTP 200 answers into models (pure functions).

MITS methods answer a ``<ResMan>`` XML envelope (parsed by the MITS codec); Leasing and
Account methods answer JSON with the same envelope fields. A ``Status`` other than Success is a
business error even though the HTTP status is 200; a body we cannot read (an HTML page from a
proxy, a truncated document) is a :class:`ResponseFormatError`, which is transient; a body
with a DOCTYPE/entity declaration (XML bomb, external entity) is an :class:`UnsafeAnswerError`,
which is permanent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from leadsync.resman.classify import classify_business_error
from leadsync.resman.errors import ResponseFormatError, UnsafeAnswerError, UnsafeXMLError
from leadsync.resman.mits import (
    element_digest,
    parse_envelope,
    parse_envelope_elements,
    parse_prospect,
    prospect_id_of,
)
from leadsync.resman.models import (
    Employee,
    Envelope,
    NamedItem,
    PersonStatus,
    PropertyInfo,
    Prospect,
    ProspectEntry,
)

T = TypeVar("T")
A = TypeVar("A")

SUCCESS = "Success"


def read_mits_envelope(body: bytes, *, method: str) -> Envelope:
    """The envelope of a MITS answer; raises the typed error of a failed one."""
    return _checked(_readable(parse_envelope, body, method=method), method=method)


def read_mits_entries(body: bytes, *, method: str) -> list[ProspectEntry]:
    """The prospects of a MITS answer as entries (``ProspectEntry``): each read only as far
    as its id and digest until asked; one that then proves unreadable raises
    :class:`ResponseFormatError`, as the whole answer would have."""
    envelope, elements = _readable(parse_envelope_elements, body, method=method)
    _checked(envelope, method=method)
    return [
        ProspectEntry(
            prospect_id_of(element),
            element_digest(element),
            partial(_readable, parse_prospect, element, method=method),
        )
        for element in elements
    ]


def _readable(parse: Callable[[A], T], data: A, *, method: str) -> T:
    """``parse(data)`` with the codec's errors as the client's typed ones."""
    try:
        return parse(data)
    except UnsafeXMLError as exc:
        raise UnsafeAnswerError(
            f"{method}: unsafe XML (DOCTYPE/entity) refused", method=method
        ) from exc
    except ValueError as exc:  # MalformedXMLError and shape errors
        raise ResponseFormatError(f"{method}: unreadable XML answer", method=method) from exc


def _checked(envelope: Envelope, *, method: str) -> Envelope:
    if not envelope.ok:
        raise classify_business_error(envelope.error_description, method=method)
    return envelope


def read_json_envelope(body: bytes, *, method: str) -> Mapping[str, Any]:
    """The JSON object of a Leasing/Account answer; raises the typed error of a failed one."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResponseFormatError(f"{method}: unreadable JSON answer", method=method) from exc
    if not isinstance(data, dict):
        raise ResponseFormatError(f"{method}: JSON answer is not an object", method=method)
    status = _field(data, "Status")
    if status != SUCCESS:
        description = _field(data, "ErrorDescription")
        raise classify_business_error(
            description if isinstance(description, str) else None, method=method
        )
    return data


def _field(data: Mapping[str, Any], key: str) -> Any:
    """``data[key]``, matching the key case-insensitively (ResMan's casing is not promised)."""
    if key in data:
        return data[key]
    lowered = key.lower()
    for name, value in data.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    return None


def _text(item: Mapping[str, Any], key: str, *, method: str, required: bool = True) -> str | None:
    value = _field(item, key)
    if value is None or value == "":
        if required:
            raise ResponseFormatError(f"{method}: an item lacks {key}", method=method)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ResponseFormatError(f"{method}: {key} has an unexpected type", method=method)
    return str(value)


def _req(item: Mapping[str, Any], key: str, *, method: str) -> str:
    value = _text(item, key, method=method)
    assert value is not None  # required=True raised otherwise
    return value


def _items(
    data: Mapping[str, Any],
    key: str,
    build: Callable[[Mapping[str, Any]], T],
    *,
    method: str,
) -> list[T]:
    raw = _field(data, key)
    if raw is None:
        return []  # an empty list may be left out
    if not isinstance(raw, list) or not all(isinstance(i, dict) for i in raw):
        raise ResponseFormatError(f"{method}: {key} is not a list of objects", method=method)
    return [build(item) for item in raw]


def read_named_items(body: bytes, *, method: str, key: str) -> list[NamedItem]:
    """``{"<key>": [{"ID", "Name"}]}`` (ProspectSources, LostProspectReasons)."""
    data = read_json_envelope(body, method=method)
    return _items(
        data,
        key,
        lambda i: NamedItem(id=_req(i, "ID", method=method), name=_req(i, "Name", method=method)),
        method=method,
    )


def read_employees(body: bytes, *, method: str) -> list[Employee]:
    data = read_json_envelope(body, method=method)
    return _items(
        data,
        "Employees",
        lambda i: Employee(
            id=_req(i, "ID", method=method),
            name=_req(i, "Name", method=method),
            email=_text(i, "Email", method=method, required=False),
            security_group=_text(i, "SecurityGroup", method=method, required=False),
        ),
        method=method,
    )


def read_people(body: bytes, *, method: str) -> list[PersonStatus]:
    data = read_json_envelope(body, method=method)
    return _items(
        data,
        "People",
        lambda i: PersonStatus(
            person_id=_req(i, "PersonID", method=method), status=_req(i, "Status", method=method)
        ),
        method=method,
    )


def read_properties(body: bytes, *, method: str) -> list[PropertyInfo]:
    data = read_json_envelope(body, method=method)
    return _items(
        data,
        "Properties",
        lambda i: PropertyInfo(
            property_id=_req(i, "PropertyID", method=method),
            name=_req(i, "Name", method=method),
        ),
        method=method,
    )


def read_account_id(body: bytes, *, method: str) -> int:
    data = read_json_envelope(body, method=method)
    value = _field(data, "AccountID")
    if isinstance(value, bool):
        value = None
    try:
        return int(value)  # ResMan may send the number as a string
    except (TypeError, ValueError) as exc:
        raise ResponseFormatError(f"{method}: answer lacks AccountID", method=method) from exc


def posted_prospect(envelope: Envelope, *, method: str) -> Prospect:
    """The prospect a PostLeadManagement4_0 answer carries, with both ResMan ids.

    Later updates must quote both ProspectID and PersonID, so an answer without them is unusable.
    """
    if not envelope.prospects or not envelope.prospects[0].customers:
        raise ResponseFormatError(f"{method}: answer carries no prospect", method=method)
    prospect = envelope.prospects[0]
    if not prospect.prospect_id or not prospect.person_id:
        raise ResponseFormatError(f"{method}: answer lacks ProspectID/PersonID", method=method)
    return prospect
