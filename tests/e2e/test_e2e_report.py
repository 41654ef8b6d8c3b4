"""`GET /api/resman/report` and `leadsync report` computed from real traffic: synced chatbot
leads, an office action, a walk-in typed by staff, then a lead ResMan refuses for good."""

from __future__ import annotations

from typing import Any

import pytest

from stack import Stack, lead_body, wait_until


def criteria(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["criteria"]}


async def _report(stack: Stack, **params: str) -> dict[str, Any]:
    response = await stack.api.get("/api/resman/report", params=params, headers=stack.auth(stack.a))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _sync_three_leads_and_a_walk_in(stack: Stack) -> None:
    for n in range(3):
        created = await stack.api.post(
            "/api/resman/leads",
            json=lead_body(stack.a.property_id, n=n),
            headers=stack.auth(stack.a),
        )
        assert created.status_code == 201

    async def synced() -> bool:
        return len(await stack.resman_prospects(stack.a)) == 3

    await wait_until(synced, within=60)
    prospect_id = (await stack.resman_prospects(stack.a))[0]["prospect_id"]
    office = await stack.api.put(
        f"/api/resman/leads/{prospect_id}/status",
        json={
            "status": "tour_scheduled",
            "updated_by": "resman_user",
            "sync_direction": "from_resman",
        },
        headers=stack.auth(stack.a),
    )
    assert office.status_code == 200, office.text
    walk_in = await stack.sandbox.post(
        f"/admin/properties/{stack.a.resman_property_id}/prospects",
        json={"first_name": "Walk", "last_name": "In", "email": "walk.in@example.org"},
    )
    walk_in.raise_for_status()
    new = 0

    async def pulled() -> bool:
        # ResMan's search window ends at whole seconds: repeat until the walk-in is in it.
        nonlocal new
        response = await stack.api.get(
            "/api/resman/leads/pull",
            params={"property_id": str(stack.a.property_id)},
            headers=stack.auth(stack.a),
        )
        assert response.status_code == 200, response.text
        new += int(response.json()["sync_summary"]["new_leads"])
        return new >= 1

    await wait_until(pulled, within=60, interval=0.5)


async def test_the_report_measures_each_criterion_against_its_target(stack: Stack) -> None:
    await _sync_three_leads_and_a_walk_in(stack)
    report = await _report(stack, since="1d")
    found = criteria(report)
    assert found["sync success rate to_resman"]["value"] == 100
    assert found["sync success rate to_resman"]["verdict"] == "PASS"
    assert found["sync latency to_resman p99"]["verdict"] == "PASS"
    assert found["data loss"]["value"] == 0
    assert found["real-time lag"]["verdict"] == "PASS"
    assert found["on-site adoption"]["value"] == pytest.approx(100 / 3)
    assert found["on-site adoption"]["verdict"] == "FAIL"
    assert found["manual entry avoided"]["value"] == pytest.approx(75)
    assert found["manual entry avoided"]["verdict"] == "FAIL"
    assert report["passed"] is False
    # Property B's key sees none of A's traffic: nothing to measure, nothing passes falsely.
    other = await stack.api.get("/api/resman/report", headers=stack.auth(stack.b))
    assert criteria(other.json())["sync success rate to_resman"]["verdict"] == "n/a"

    # A lead ResMan refuses for good: success rate and data loss fail.
    await stack.set_transaction_source(stack.a, "no-such-source")
    await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id, n=9), headers=stack.auth(stack.a)
    )

    async def lost() -> bool:
        return bool(criteria(await _report(stack))["data loss"]["value"] == 1)

    await wait_until(lost, within=60)
    found = criteria(await _report(stack))
    assert found["sync success rate to_resman"]["value"] == 75
    assert found["sync success rate to_resman"]["verdict"] == "FAIL"
    assert found["data loss"]["verdict"] == "FAIL"


async def test_a_bad_period_is_a_422_naming_since(stack: Stack) -> None:
    response = await stack.api.get(
        "/api/resman/report", params={"since": "lately"}, headers=stack.auth(stack.a)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "since"
