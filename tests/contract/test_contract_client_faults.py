"""Every sandbox fault, over real HTTP, arrives as its typed error (the engine's only input)."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from structlog.testing import capture_logs

from leadsync.resman import (
    AuthenticationError,
    BusinessError,
    RateLimitedError,
    ResManClient,
    ResManConnectionError,
    ResManCredentials,
    ResManError,
    ResManTimeoutError,
    TransientError,
    WindowOverflowError,
)
from leadsync.resman.models import Customer, Identification, Prospect

SetFaults = Callable[..., Awaitable[dict[str, Any]]]
MakeLead = Callable[..., Prospect]
Call = Callable[[ResManClient, ResManCredentials], Awaitable[object]]

START = datetime(2001, 1, 1, tzinfo=UTC)


async def _sources(c: ResManClient, creds: ResManCredentials) -> object:
    return await c.get_prospect_sources(creds=creds)


async def _search(c: ResManClient, creds: ResManCredentials) -> object:
    return await c.search_prospects(
        creds=creds, modified_start=START, modified_end=START + timedelta(days=1)
    )


async def _properties(c: ResManClient, creds: ResManCredentials) -> object:
    return await c.get_properties(creds=creds)


#: One call per response format: MITS (XML), Leasing (JSON), Account (JSON, no property).
CALLS = pytest.mark.parametrize(
    "call", [_search, _sources, _properties], ids=["mits", "leasing", "account"]
)


@CALLS
@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_transient_with_status(
    client: ResManClient,
    creds: ResManCredentials,
    set_faults: SetFaults,
    call: Call,
    status: int,
) -> None:
    await set_faults(http_error_rate=1.0, http_error_codes=[status])
    with pytest.raises(TransientError) as info:
        await call(client, creds)
    assert type(info.value) is TransientError
    assert info.value.status_code == status
    assert info.value.retryable


@CALLS
async def test_429_is_rate_limited_with_retry_after(
    client: ResManClient, creds: ResManCredentials, set_faults: SetFaults, call: Call
) -> None:
    await set_faults(rate_limit_rate=1.0, retry_after_seconds=7)
    with pytest.raises(RateLimitedError) as info:
        await call(client, creds)
    assert info.value.status_code == 429
    assert info.value.retry_after == pytest.approx(7.0)


async def test_hang_beyond_the_read_timeout_is_a_timeout(
    sandbox_url: str, creds: ResManCredentials, set_faults: SetFaults
) -> None:
    await set_faults(timeout_rate=1.0, hang_seconds=2.0)
    impatient = ResManClient(base_url=sandbox_url, timeout=httpx2.Timeout(0.2, connect=5.0))
    async with impatient:
        with pytest.raises(ResManTimeoutError) as info:
            await _sources(impatient, creds)
    assert info.value.retryable


@CALLS
async def test_reset_is_a_connection_error(
    client: ResManClient, creds: ResManCredentials, set_faults: SetFaults, call: Call
) -> None:
    await set_faults(reset_rate=1.0)
    with pytest.raises(ResManConnectionError) as info:
        await call(client, creds)
    assert info.value.retryable


async def test_refused_connection_is_a_connection_error(creds: ResManCredentials) -> None:
    # Bind a port, then close it: nothing listens there afterwards.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with ResManClient(base_url=f"http://127.0.0.1:{port}") as nowhere:
        with pytest.raises(ResManConnectionError):
            await _sources(nowhere, creds)


@CALLS
async def test_injected_business_error_is_unknown_and_retryable(
    client: ResManClient, creds: ResManCredentials, set_faults: SetFaults, call: Call
) -> None:
    await set_faults(business_error_rate=1.0, business_error_message="Service is busy")
    with pytest.raises(BusinessError) as info:
        await call(client, creds)
    assert info.value.description == "Service is busy"
    assert (info.value.category, info.value.retryable) == ("unknown", True)


async def test_unknown_transaction_source_is_permanent(
    client: ResManClient, creds: ResManCredentials, make_lead: MakeLead
) -> None:
    lead = make_lead(first_name="Ivy", last_name="Tran", source="no-such-source")
    with pytest.raises(BusinessError) as info:
        await client.post_lead(creds=creds, prospect=lead)
    assert info.value.description == "Transaction Source could not be found"
    assert (info.value.category, info.value.retryable) == ("transaction_source", False)


async def test_update_of_unknown_prospect_is_not_found(
    client: ResManClient, creds: ResManCredentials, make_lead: MakeLead
) -> None:
    lead = make_lead(first_name="Jo", last_name="Park")
    ids = (Identification("ProspectID", "00000000-0000-4000-8000-000000000000"),)
    ghost = replace(lead, customers=(replace(lead.lead, identifications=ids),))
    with pytest.raises(BusinessError) as info:
        await client.post_lead(creds=creds, prospect=ghost)
    assert (info.value.category, info.value.retryable) == ("not_found", False)


async def test_missing_names_is_a_validation_error(
    client: ResManClient, creds: ResManCredentials, make_lead: MakeLead
) -> None:
    lead = make_lead(first_name="Kit", last_name="Vale")
    nameless = replace(lead, customers=(Customer(email="kit@x.test"),))
    with pytest.raises(BusinessError) as info:
        await client.post_lead(creds=creds, prospect=nameless)
    assert (info.value.category, info.value.retryable) == ("validation", False)


SECRET_PARTNER = "partner-Zq8Lx"
SECRET_KEY = "key-Wm3Rt9Yv"


@CALLS
async def test_bad_credentials_are_authentication_errors_without_leaking_them(
    client: ResManClient, creds: ResManCredentials, call: Call
) -> None:
    wrong = replace(creds, partner_id=SECRET_PARTNER, api_key=SECRET_KEY)
    with capture_logs() as logs, pytest.raises(AuthenticationError) as info:
        await call(client, wrong)
    assert not info.value.retryable
    _assert_no_secret(info.value, logs, SECRET_PARTNER, SECRET_KEY)
    assert len(_call_lines(logs)) == 1, "a failing call logs one line"


@pytest.mark.parametrize(
    "faults",
    [
        {"http_error_rate": 1.0, "http_error_codes": [500]},
        {"reset_rate": 1.0},
        {"business_error_rate": 1.0},
    ],
    ids=["500", "reset", "business"],
)
async def test_failing_calls_never_leak_credentials(
    client: ResManClient,
    creds: ResManCredentials,
    set_faults: SetFaults,
    faults: dict[str, Any],
) -> None:
    await set_faults(**faults)
    with capture_logs() as logs, pytest.raises(ResManError) as info:
        await _search(client, creds)
    _assert_no_secret(info.value, logs, creds.partner_id, creds.api_key)
    [line] = _call_lines(logs)
    assert line["method"] == "MITS/SearchProspects"
    assert "duration_ms" in line


def _call_lines(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    # The sandbox runs in this process and may log too; keep the client's lines.
    return [line for line in logs if line.get("event") == "resman.call"]


def _assert_no_secret(
    exc: BaseException, logs: list[MutableMapping[str, Any]], *secrets: str
) -> None:
    texts = [str(exc), repr(exc), str(exc.__cause__), repr(logs)]
    for secret in secrets:
        assert all(secret not in text for text in texts), "a credential leaked"


async def test_window_overflow(
    client: ResManClient,
    creds: ResManCredentials,
    set_faults: SetFaults,
    make_lead: MakeLead,
) -> None:
    for n in range(3):
        await client.post_lead(creds=creds, prospect=make_lead(first_name=f"L{n}", last_name="Q"))
    await set_faults(overflow_threshold=2)
    now = datetime.now(UTC)
    with pytest.raises(WindowOverflowError) as info:
        await client.search_prospects(
            creds=creds,
            modified_start=now - timedelta(hours=1),
            modified_end=now + timedelta(hours=1),
        )
    assert not info.value.retryable
    assert info.value.method == "MITS/SearchProspects"


async def test_faults_limited_to_one_method_leave_others_alone(
    client: ResManClient, creds: ResManCredentials, set_faults: SetFaults
) -> None:
    await set_faults(http_error_rate=1.0, http_error_codes=[503], methods=["MITS/SearchProspects"])
    assert await client.get_prospect_sources(creds=creds)
    with pytest.raises(TransientError):
        await _search(client, creds)
