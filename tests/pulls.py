"""Pulls through the API for end-to-end tests: one pull, and incremental pulls with their
summaries added up until a condition holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stack import Stack, Tenant, wait_until


async def pull(stack: Stack, tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = await stack.api.get(
        "/api/resman/leads/pull",
        params={"property_id": str(tenant.property_id), **params},
        headers=stack.auth(tenant),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Totals:
    new: int = 0
    updated: int = 0
    resolved: int = 0
    pulls: int = 0
    #: prospects read (changed or not)
    seen: int = 0

    def add(self, summary: dict[str, Any]) -> None:
        self.new += summary["new_leads"]
        self.updated += summary["updated_leads"]
        self.resolved += summary["conflicts_resolved"]
        self.seen += summary["prospects_seen"]
        self.pulls += 1


async def pull_until(stack: Stack, tenant: Tenant, totals: Totals, done: Any) -> None:
    """Incremental pulls until ``done(totals)``: a change made just now is only inside the
    window once its second is over (the window ends a second before now)."""

    async def check() -> bool:
        totals.add((await pull(stack, tenant))["sync_summary"])
        return bool(done(totals))

    await wait_until(check, interval=0.3)
