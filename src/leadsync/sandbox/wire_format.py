"""The bytes ResMan answers with: MITS envelopes, Leasing/Account JSON or XML, gateway errors,
and the deliberately broken answer of the connection-reset fault."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from lxml import etree
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from leadsync.resman.mits import build_envelope
from leadsync.resman.models import Envelope, Prospect

XML_MEDIA = "application/xml; charset=utf-8"
JSON_MEDIA = "application/json; charset=utf-8"

#: Element names of list items in Leasing/Account XML answers.
_ITEM_TAGS = {
    "ProspectSources": "ProspectSource",
    "LostProspectReasons": "LostProspectReason",
    "Employees": "Employee",
    "People": "Person",
    "Properties": "Property",
}


def wants_xml(accept: str | None, *, default_xml: bool) -> bool:
    """XML or JSON from the Accept header: whichever is named first; neither -> the default."""
    text = (accept or "").lower()
    positions = [p for p in (text.find("/xml"), text.find("+xml")) if p >= 0]
    xml_at = min(positions, default=-1)
    json_at = text.find("json")
    if xml_at < 0 and json_at < 0:
        return default_xml
    if json_at < 0:
        return True
    return 0 <= xml_at < json_at


def mits_response(
    *,
    method: str,
    status: str = "Success",
    error: str | None = None,
    account_id: int | None = None,
    property_id: str | None = None,
    prospects: Sequence[Prospect] | None = None,
) -> Response:
    envelope = Envelope(
        method_name=method,
        status=status,
        error_description=error,
        account_id=account_id,
        property_id=property_id,
        prospects=tuple(prospects or ()),
    )
    body = build_envelope(envelope, include_prospects=prospects is not None)
    return Response(body, media_type=XML_MEDIA)


def _xml_value(parent: etree._Element, name: str, value: Any) -> None:
    element = etree.SubElement(parent, name)
    if isinstance(value, list):
        tag = _ITEM_TAGS.get(name, "Item")
        for item in value:
            child = etree.SubElement(element, tag)
            for key, inner in item.items():
                _xml_value(child, key, inner)
    elif value is not None:
        element.text = str(value)


def fields_response(fields: Mapping[str, Any], *, xml: bool) -> Response:
    """A Leasing/Account answer: the envelope fields and the method's lists."""
    if not xml:
        return Response(json.dumps(fields), media_type=JSON_MEDIA)
    root = etree.Element("ResMan")
    for name, value in fields.items():
        _xml_value(root, name, value)
    return Response(
        etree.tostring(root, encoding="UTF-8", xml_declaration=True), media_type=XML_MEDIA
    )


def gateway_error(status: int, *, detail: str | None = None) -> Response:
    """What a proxy or IIS in front of ResMan answers: a small HTML page, not an envelope."""
    text = f"{status} error" + (f": {detail}" if detail else "")
    body = f"<html><head><title>{status}</title></head><body><h1>{text}</h1></body></html>"
    return Response(body, status_code=status, media_type="text/html; charset=utf-8")


def overflow_response(*, found: int, limit: int) -> Response:
    """SearchProspects' answer to a modified window holding too many prospects."""
    return gateway_error(
        502,
        detail=f"Bad Gateway - buffer overflow ({found} prospects in the window, limit {limit})",
    )


def rate_limited(retry_after: float) -> Response:
    response = gateway_error(429, detail="Too Many Requests")
    # Retry-After takes whole seconds (RFC 9110); round up so a client never retries early.
    response.headers["Retry-After"] = str(max(0, -int(-retry_after // 1)))
    return response


class InjectedReset(Exception):
    """Raised on purpose so the server drops the connection mid-response."""


class ResetResponse(Response):
    """Starts a 200 answer, sends part of it, then fails: the server closes the connection
    and the client sees a broken transfer (a transport error, not an HTTP status). ASGI
    gives no access to the socket, so an exception is the way to make the server abort."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", XML_MEDIA.encode()),
                    (b"content-length", b"4096"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"<?xml", "more_body": True})
        raise InjectedReset


class _DropInjectedReset(logging.Filter):
    """Keeps the server's "Exception in ASGI application" traceback for an injected reset
    out of the logs: it is the intended behaviour, not a bug."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedReset))


_RESET_FILTER = _DropInjectedReset()


def silence_injected_resets() -> None:
    """Idempotent: install the filter on uvicorn's error logger."""
    logger = logging.getLogger("uvicorn.error")
    if _RESET_FILTER not in logger.filters:
        logger.addFilter(_RESET_FILTER)
