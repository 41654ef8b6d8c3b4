"""Serving the sandbox: from sync code in a thread, two at once, and the start banner."""

from __future__ import annotations

import httpx2
import pytest

from leadsync.sandbox import (
    SandboxConfig,
    SandboxServer,
    create_sandbox_app,
    run_sandbox_in_thread,
    seed,
    startup_banner,
)


def test_run_in_thread_serves_sync_callers() -> None:
    with run_sandbox_in_thread(SandboxConfig()) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        response = httpx2.post(
            f"{base_url}/Account/GetProperties",
            data={
                "IntegrationPartnerID": seed.SANDBOX_PARTNER_ID,
                "ApiKey": seed.SANDBOX_API_KEY,
                "AccountID": str(seed.SANDBOX_ACCOUNT_ID),
            },
        )
        assert response.json()["Status"] == "Success"
    # Stopped: nothing listens there any more.
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(f"{base_url}/admin/health", timeout=2)


async def test_two_sandboxes_are_independent() -> None:
    async with (
        SandboxServer(create_sandbox_app()) as one,
        SandboxServer(create_sandbox_app()) as two,
        httpx2.AsyncClient() as http,
    ):
        assert one.base_url != two.base_url
        await http.post(
            f"{one.base_url}/admin/properties/{seed.SANDBOX_PROPERTY_ID}/prospects",
            json={"first_name": "Only", "last_name": "One"},
        )
        counts = [(await http.get(f"{s.base_url}/admin/stats")).json() for s in (one, two)]
        assert [c["prospects"] for c in counts] == [1, 0]


def test_banner_names_what_a_user_needs() -> None:
    banner = startup_banner("http://127.0.0.1:8765")
    for needed in (
        "http://127.0.0.1:8765/admin/docs",
        seed.SANDBOX_PARTNER_ID,
        seed.SANDBOX_API_KEY,
        str(seed.SANDBOX_ACCOUNT_ID),
        seed.SANDBOX_PROPERTY_ID,
        seed.SANDBOX_PROPERTY_ID_2,
        seed.prospect_source_id(seed.SANDBOX_PROPERTY_ID, "Chatbot"),
        f"ws://127.0.0.1:8765/admin/feed?property_id={seed.SANDBOX_PROPERTY_ID}",
    ):
        assert needed in banner
