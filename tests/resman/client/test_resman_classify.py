"""The classification table: every outcome of a call maps to one typed error."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx2
import pytest

from leadsync.resman.classify import (
    classify_business_error,
    classify_request_error,
    classify_status,
    parse_retry_after,
)
from leadsync.resman.errors import (
    AuthenticationError,
    BusinessError,
    RateLimitedError,
    ResManConnectionError,
    ResManError,
    ResManTimeoutError,
    ResponseFormatError,
    TransientError,
    WindowOverflowError,
)

METHOD = "MITS/SearchProspects"
NOW = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("description", "category", "retryable"),
    [
        ("Transaction Source could not be found", "transaction_source", False),
        ("transaction source could NOT be found", "transaction_source", False),
        ("Prospect could not be found", "not_found", False),
        ("Property not found", "not_found", False),
        ("FirstName is required", "validation", False),
        ("Invalid phone number", "validation", False),
        ("EventDate must be a date", "validation", False),
        ("Xml is invalid: unexpected element", "validation", False),
        ("An unexpected error has occurred", "unknown", True),
        ("", "unknown", True),
        (None, "unknown", True),
    ],
)
def test_business_descriptions_map_to_categories(
    description: str | None, category: str, retryable: bool
) -> None:
    err = classify_business_error(description, method=METHOD)
    assert isinstance(err, BusinessError)
    assert (err.category, err.retryable) == (category, retryable)
    assert err.method == METHOD
    assert str(err).startswith(METHOD)


@pytest.mark.parametrize(
    "description",
    [
        "Invalid credentials",
        "The supplied CREDENTIALS are not valid",
        "Not authorized for this property",
        "Invalid API key",
        "Unknown integration partner",
    ],
)
def test_credential_descriptions_are_authentication_errors(description: str) -> None:
    err = classify_business_error(description, method=METHOD)
    assert isinstance(err, AuthenticationError)
    assert not err.retryable
    assert description in str(err)


def test_business_error_message_is_method_and_description_only() -> None:
    err = classify_business_error("Prospect could not be found", method="MITS/X")
    assert str(err) == "MITS/X: Prospect could not be found"


@pytest.mark.parametrize("status", [500, 503, 504, 599, 408])
def test_server_errors_are_transient_with_their_status(status: int) -> None:
    err = classify_status(method=METHOD, status_code=status, body="oops", headers={})
    assert type(err) is TransientError
    assert err.status_code == status
    assert err.retryable
    assert str(err) == f"{METHOD}: HTTP {status}"


def test_502_with_buffer_overflow_is_window_overflow() -> None:
    body = "<html>Error: Buffer Overflow while reading prospects</html>"
    err = classify_status(method=METHOD, status_code=502, body=body, headers={})
    assert isinstance(err, WindowOverflowError)
    assert not err.retryable


def test_plain_502_is_transient() -> None:
    err = classify_status(method=METHOD, status_code=502, body="Bad Gateway", headers={})
    assert type(err) is TransientError
    assert err.status_code == 502


def test_429_carries_retry_after_seconds() -> None:
    err = classify_status(
        method=METHOD, status_code=429, body="", headers={"retry-after": "7"}, now=NOW
    )
    assert isinstance(err, RateLimitedError)
    assert (err.status_code, err.retry_after) == (429, 7.0)


def test_429_carries_retry_after_http_date() -> None:
    headers = httpx2.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    err = classify_status(method=METHOD, status_code=429, body="", headers=headers, now=NOW)
    assert isinstance(err, RateLimitedError)
    assert err.retry_after == 60.0


def test_429_without_retry_after() -> None:
    err = classify_status(method=METHOD, status_code=429, body="", headers={})
    assert isinstance(err, RateLimitedError)
    assert err.retry_after is None


def test_503_keeps_retry_after() -> None:
    err = classify_status(method=METHOD, status_code=503, body="", headers={"retry-after": "30"})
    assert isinstance(err, TransientError)
    assert err.retry_after == 30.0


@pytest.mark.parametrize("status", [401, 403])
def test_401_403_are_authentication_errors(status: int) -> None:
    err = classify_status(method=METHOD, status_code=status, body="", headers={})
    assert isinstance(err, AuthenticationError)


@pytest.mark.parametrize("status", [400, 404, 405, 413, 422, 301])
def test_other_statuses_are_permanent_business_errors(status: int) -> None:
    err = classify_status(method=METHOD, status_code=status, body="", headers={})
    assert isinstance(err, BusinessError)
    assert err.category == f"http_{status}"
    assert not err.retryable


def test_2xx_is_not_an_http_error() -> None:
    with pytest.raises(ValueError, match="2xx"):
        classify_status(method=METHOD, status_code=200, body="", headers={})


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx2.ReadTimeout("read from 10.0.0.1 stalled"), ResManTimeoutError),
        (httpx2.ConnectTimeout("connect to 10.0.0.1 stalled"), ResManTimeoutError),
        (httpx2.PoolTimeout("no connection"), ResManTimeoutError),
        (httpx2.WriteTimeout("write to 10.0.0.1 stalled"), ResManTimeoutError),
        (httpx2.ConnectError("[Errno 111] refused"), ResManConnectionError),
        (httpx2.ReadError("reset by peer"), ResManConnectionError),
        (httpx2.WriteError("broken pipe"), ResManConnectionError),
        (httpx2.RemoteProtocolError("peer closed connection"), ResManConnectionError),
        (httpx2.DecodingError("bad gzip"), ResponseFormatError),
    ],
)
def test_request_errors(exc: httpx2.RequestError, expected: type[ResManError]) -> None:
    err = classify_request_error(exc, method=METHOD)
    assert type(err) is expected
    assert err.retryable
    # httpx2's own text may quote peers or URLs; ours names the method and the failure kind.
    assert str(exc) not in str(err)
    assert str(err).startswith(f"{METHOD}: ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:20:00 GMT", 0.0),  # in the past: retry now
        ("Wednesday, 21-Oct-15 07:27:30 GMT", 30.0),  # obsolete RFC 850 form
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected
