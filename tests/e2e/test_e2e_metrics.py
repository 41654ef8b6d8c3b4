"""GET /metrics over the real stack: a real lead moves the spec's metrics, a fault moves the
failure metrics, and the endpoint answers only the scrape token or loopback."""

from __future__ import annotations

import httpx2
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from leadsync.app import create_app
from stack import Stack, lead_body, wait_until


async def scrape(
    client: httpx2.AsyncClient, **headers: str
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """Sum over the series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def test_a_synced_lead_moves_outcome_latency_api_and_queue_metrics(stack: Stack) -> None:
    before = await scrape(stack.api)
    created = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id), headers=stack.auth(stack.a)
    )
    assert created.status_code == 201

    async def synced() -> bool:
        return value(await scrape(stack.api), "leadsync_queue_depth", state="succeeded") == 1

    await wait_until(synced)
    after = await scrape(stack.api)

    outcome = {"direction": "to_resman", "type": "create", "outcome": "success"}
    assert value(after, "leadsync_sync_outcomes_total", **outcome) == (
        value(before, "leadsync_sync_outcomes_total", **outcome) + 1
    )
    # inline, or worker when the first attempt outlasted the request's wait (a loaded box)
    latency = {"direction": "to_resman"}
    assert total(after, "leadsync_sync_latency_seconds_count", **latency) == (
        total(before, "leadsync_sync_latency_seconds_count", **latency) + 1
    )
    post = {"method": "MITS/PostLeadManagement4_0", "outcome": "ok"}
    assert value(after, "leadsync_resman_request_duration_seconds_count", **post) == (
        value(before, "leadsync_resman_request_duration_seconds_count", **post) + 1
    )
    assert value(after, "leadsync_queue_depth", state="succeeded") == 1
    assert value(after, "leadsync_dead_letters") == 0
    assert value(after, "leadsync_sync_lag_seconds", direction="to_resman") == 0
    assert value(after, "leadsync_circuit_open", integration=str(stack.a.integration_id)) == 0
    assert (
        value(after, "leadsync_consistency_unsynced_leads", integration=str(stack.a.integration_id))
        == 0
    )


async def test_a_refused_lead_counts_a_failure_a_dead_letter_and_an_unsynced_lead(
    stack: Stack,
) -> None:
    before = await scrape(stack.api)
    # An unknown TransactionSource: ResMan refuses the lead for good (a permanent error).
    await stack.set_transaction_source(stack.a, "no-such-source")
    created = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id), headers=stack.auth(stack.a)
    )
    assert created.status_code == 201

    async def dead() -> bool:
        return value(await scrape(stack.api), "leadsync_dead_letters") == 1

    await wait_until(dead)
    after = await scrape(stack.api)
    assert total(after, "leadsync_sync_failures_total", direction="to_resman") > total(
        before, "leadsync_sync_failures_total", direction="to_resman"
    )
    assert total(after, "leadsync_sync_outcomes_total", outcome="failed") > total(
        before, "leadsync_sync_outcomes_total", outcome="failed"
    )
    assert total(
        after, "leadsync_resman_request_duration_seconds_count", outcome="business"
    ) > total(before, "leadsync_resman_request_duration_seconds_count", outcome="business")
    integration = str(stack.a.integration_id)
    assert value(after, "leadsync_consistency_unsynced_leads", integration=integration) == 1


async def test_metrics_need_the_scrape_token_when_one_is_set(stack: Stack) -> None:
    stack.runtime.settings.metrics_token = SecretStr("scrape-secret")
    try:
        missing = await stack.api.get("/metrics")
        assert missing.status_code == 401
        assert missing.headers["content-type"] == "application/problem+json"
        wrong = await stack.api.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        api_key = await stack.api.get("/metrics", headers=stack.auth(stack.a))
        assert api_key.status_code == 401, "an API key is not a scrape token"
        samples = await scrape(stack.api, Authorization="Bearer scrape-secret")
        assert ("leadsync_dead_letters", frozenset()) in samples
    finally:
        stack.runtime.settings.metrics_token = None


async def test_without_a_token_only_loopback_clients_are_answered(stack: Stack) -> None:
    app = create_app(stack.runtime.settings, runtime=stack.runtime)
    app.state.runtime = stack.runtime
    remote = httpx2.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx2.AsyncClient(transport=remote, base_url="http://leadsync") as client:
        refused = await client.get("/metrics")
    assert refused.status_code == 403
    assert "LEADSYNC_METRICS_TOKEN" in refused.json()["detail"]
    local = httpx2.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx2.AsyncClient(transport=local, base_url="http://leadsync") as client:
        assert (await client.get("/metrics")).status_code == 200
