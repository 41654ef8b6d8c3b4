"""Fault injection: every kind over real HTTP, seeded determinism, and the admin API exempt."""

from __future__ import annotations

from collections import Counter

import httpx2
import pytest

from leadsync.resman.mits import parse_envelope
from leadsync.sandbox.config import FaultConfig
from leadsync.sandbox.faults import FaultInjector, FaultKind
from sandbox.sandbox_kit import create, creds, lead, put_faults

SOURCES = "/Leasing/GetProspectSources"


async def sources(http: httpx2.AsyncClient) -> httpx2.Response:
    return await http.post(SOURCES, data=creds())


@pytest.mark.parametrize("codes", [[502], [500, 503], [401]])
async def test_http_errors_use_the_chosen_codes(http: httpx2.AsyncClient, codes: list[int]) -> None:
    await put_faults(http, http_error_rate=1.0, http_error_codes=codes, seed=3)
    statuses = {(await sources(http)).status_code for _ in range(12)}
    assert statuses == set(codes)


async def test_rate_limit_is_429_with_retry_after(http: httpx2.AsyncClient) -> None:
    await put_faults(http, rate_limit_rate=1.0, retry_after_seconds=2.5)
    response = await sources(http)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"  # whole seconds, never early


async def test_latency_delays_but_still_answers(http: httpx2.AsyncClient) -> None:
    await put_faults(http, latency_ms=30, latency_jitter_ms=10)
    response = await sources(http)
    assert response.json()["Status"] == "Success"


async def test_hang_outlasts_a_short_read_timeout(sandbox_url: str) -> None:
    async with httpx2.AsyncClient(base_url=sandbox_url, timeout=10.0) as admin:
        await put_faults(admin, timeout_rate=1.0, hang_seconds=1.0)
    async with httpx2.AsyncClient(base_url=sandbox_url, timeout=0.2) as impatient:
        with pytest.raises(httpx2.ReadTimeout):
            await impatient.post(SOURCES, data=creds())


async def test_hang_answers_after_hang_seconds(http: httpx2.AsyncClient) -> None:
    await put_faults(http, timeout_rate=1.0, hang_seconds=0.2)
    assert (await sources(http)).json()["Status"] == "Success"


@pytest.mark.parametrize("path", [SOURCES, "/MITS/SearchProspects"])
async def test_reset_drops_the_connection_mid_response(http: httpx2.AsyncClient, path: str) -> None:
    await put_faults(http, reset_rate=1.0)
    with pytest.raises(httpx2.RemoteProtocolError):
        await http.post(path, data={**creds(), "Email": "a@b.test"})
    # The server itself is unharmed.
    await put_faults(http)
    assert (await sources(http)).status_code == 200


async def test_business_error_is_http_200_with_the_configured_message(
    http: httpx2.AsyncClient,
) -> None:
    await put_faults(http, business_error_rate=1.0, business_error_message="Service is busy")

    leasing = await sources(http)
    mits = await http.post("/MITS/SearchProspects", data={**creds(), "Email": "a@b.test"})

    assert (leasing.status_code, mits.status_code) == (200, 200)
    assert (leasing.json()["Status"], leasing.json()["ErrorDescription"]) == (
        "Failed",
        "Service is busy",
    )
    envelope = parse_envelope(mits.content)
    assert (envelope.status, envelope.error_description) == ("Error", "Service is busy")


async def test_faults_apply_only_to_the_chosen_methods(http: httpx2.AsyncClient) -> None:
    await put_faults(
        http, http_error_rate=1.0, http_error_codes=[503], methods=["mits/searchprospects"]
    )
    search = await http.post("/MITS/SearchProspects", data={**creds(), "Email": "a@b.test"})
    assert search.status_code == 503
    assert (await sources(http)).status_code == 200
    await create(http, lead())  # PostLeadManagement4_0 is not targeted either


async def test_faults_never_touch_the_admin_api(http: httpx2.AsyncClient) -> None:
    await put_faults(http, http_error_rate=1.0, reset_rate=0.0)
    for path in ("/admin/health", "/admin/stats", "/admin/faults"):
        assert (await http.get(path)).status_code == 200


async def test_stats_count_requests_and_injected_faults(http: httpx2.AsyncClient) -> None:
    await put_faults(http, http_error_rate=0.5, rate_limit_rate=0.5, seed=11)
    for _ in range(10):
        await sources(http)

    stats = (await http.get("/admin/stats")).json()
    assert stats["requests"] == {"Leasing/GetProspectSources": 10}
    assert sum(stats["faults_injected"].values()) == 10
    assert set(stats["faults_injected"]) == {"http_error", "rate_limit"}
    assert (await http.post("/admin/reset-stats")).status_code == 204
    assert (await http.get("/admin/stats")).json()["requests"] == {}


async def _outcomes(http: httpx2.AsyncClient, seed: int) -> list[int]:
    await put_faults(
        http, seed=seed, http_error_rate=0.3, http_error_codes=[500, 502, 503], rate_limit_rate=0.2
    )
    return [(await sources(http)).status_code for _ in range(25)]


async def test_same_seed_same_fault_sequence(http: httpx2.AsyncClient) -> None:
    first = await _outcomes(http, seed=42)
    again = await _outcomes(http, seed=42)
    other = await _outcomes(http, seed=43)

    assert first == again
    assert first != other
    assert {200, 429} <= set(first)


def test_fault_rates_are_shares_of_one_draw() -> None:
    injector = FaultInjector(
        FaultConfig(seed=5, reset_rate=0.1, http_error_rate=0.2, business_error_rate=0.3)
    )
    kinds = Counter(injector.decide("MITS/SearchProspects").kind for _ in range(10_000))

    assert set(kinds) == {FaultKind.RESET, FaultKind.HTTP_ERROR, FaultKind.BUSINESS_ERROR, None}
    assert kinds[FaultKind.RESET] == pytest.approx(1_000, rel=0.1)
    assert kinds[FaultKind.HTTP_ERROR] == pytest.approx(2_000, rel=0.1)
    assert kinds[FaultKind.BUSINESS_ERROR] == pytest.approx(3_000, rel=0.1)


def test_untargeted_methods_do_not_shift_the_sequence() -> None:
    config = FaultConfig(seed=9, http_error_rate=0.5, methods=["MITS/SearchProspects"])
    plain, mixed = FaultInjector(config), FaultInjector(config)

    alone = [plain.decide("MITS/SearchProspects").kind for _ in range(50)]
    interleaved = []
    for _ in range(50):
        assert mixed.decide("Leasing/GetEmployees").kind is None
        interleaved.append(mixed.decide("MITS/SearchProspects").kind)

    assert alone == interleaved


def test_latency_and_hang_add_up_and_never_go_negative() -> None:
    config = FaultConfig(seed=1, latency_ms=5, latency_jitter_ms=50, timeout_rate=1, hang_seconds=2)
    delays = [FaultInjector(config).decide("x").delay_seconds]
    injector = FaultInjector(config)
    delays += [injector.decide("x").delay_seconds for _ in range(200)]

    assert all(2.0 <= d <= 2.055 for d in delays)
    assert min(delays) == 2.0  # jitter below zero latency is clamped


def test_error_codes_must_be_http_errors() -> None:
    with pytest.raises(ValueError, match="not an HTTP error status"):
        FaultConfig(http_error_codes=[200])
