"""The dashboard in a real browser (headless chromium) on a running stack: every page,
resolving a conflict, replaying a dead letter, a live update without reload, scoped
sign-in and a forged CSRF token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from dashboard.browser import WAIT_MS, chromium, needs_browser, sign_in
from dashboard.pages import dead_letter, parked_phone_conflict
from leadsync.db.models import LeadSyncQueue, ResmanIntegration
from stack import Stack, create_synced_lead, lead_body, wait_until

if TYPE_CHECKING:
    from playwright.async_api import Browser

# The browser adds nothing backend-specific: SQLite only (the HTTP tests cover both).
pytestmark = [*needs_browser, pytest.mark.parametrize("migrated_db_url", ["sqlite"], indirect=True)]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


async def test_every_page_loads_and_a_live_update_arrives(stack: Stack, browser: Browser) -> None:
    from playwright.async_api import expect

    conversation_id, _ = await create_synced_lead(stack, stack.a)
    page = await sign_in(browser, stack, stack.a)
    card = page.locator(f"section.card[data-property='{stack.a.property_id}']")
    # The success criteria of `leadsync report`, one row each, for this property.
    criteria = card.locator("table.criteria tbody tr td:first-child")
    await expect(criteria).to_contain_text(
        ["sync success rate to_resman", "data loss", "conflict rate", "real-time lag"]
    )
    for link, heading in (
        ("Conflicts", "Conflicts awaiting review"),
        ("Dead letters", "Dead letters"),
        ("Integrations", "Integrations"),
        ("Leads", "Leads"),
    ):
        await page.click(f"header nav >> text={link}")
        await expect(page.locator("h1")).to_have_text(heading)
    await page.click(f"a[href='/dashboard/leads/{conversation_id}']")
    await expect(page.locator("ol.timeline li.sync").first).to_contain_text("create to resman")

    await page.click("header nav >> text=Leads")
    await expect(page.locator("#live-status")).to_have_text("live")
    await page.evaluate("window.stillThisPage = true")
    body = lead_body(stack.a.property_id)
    body["lead_data"]["last_name"] = "Liveupdate"
    created = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    assert created.status_code == 201
    await expect(page.locator("#content")).to_contain_text("Liveupdate")
    await expect(page.locator("#live-events li.new_lead").first).to_be_visible()
    assert await page.evaluate("window.stillThisPage") is True, "the page was reloaded"


async def test_resolving_a_conflict_in_the_browser(stack: Stack, browser: Browser) -> None:
    from playwright.async_api import expect

    conversation_id, conflict_id = await parked_phone_conflict(stack)
    page = await sign_in(browser, stack, stack.a)
    await page.click("header nav >> text=Conflicts")
    section = page.locator(f"#conflict-{conflict_id}")
    await expect(section.locator("td.domiq")).to_have_text("+17375551111")
    await expect(section.locator("td.resman")).to_have_text("+15125552222")
    await section.locator("button[value=domiq]").click()
    await expect(page.locator(f"#conflict-{conflict_id}")).to_have_count(0)
    await expect(page.locator("p.empty")).to_have_text("No conflict awaits review.")
    await page.goto(f"/dashboard/leads/{conversation_id}")
    timeline = page.locator("ol.timeline")
    await expect(timeline.locator("li.conflict")).to_contain_text("conflict on phone")
    await expect(timeline.locator("li.resolution")).to_contain_text(
        "phone: domiq by dashboard (test)"
    )


async def test_replaying_a_dead_letter_in_the_browser(stack: Stack, browser: Browser) -> None:
    from playwright.async_api import expect

    _, job_id = await dead_letter(stack)
    page = await sign_in(browser, stack, stack.a)
    await page.click("header nav >> text=Dead letters")
    row = page.locator(f"tr.letter[data-job='{job_id}']")
    await expect(row).to_contain_text("transaction_source")
    await row.locator("button").click()
    await expect(page.locator(f"tr.letter[data-job='{job_id}']")).to_have_count(0)

    async def succeeded() -> bool:
        async with stack.runtime.sessionmaker() as session:
            state = await session.scalar(
                select(LeadSyncQueue.state).where(LeadSyncQueue.id == uuid.UUID(job_id))
            )
        return state == "succeeded"

    await wait_until(succeeded)


async def test_scoped_sign_in_and_forged_csrf(stack: Stack, browser: Browser) -> None:
    from playwright.async_api import expect

    conversation_id, _ = await create_synced_lead(stack, stack.a)
    context = await browser.new_context(base_url=str(stack.api.base_url))
    context.set_default_timeout(WAIT_MS)
    stranger = await context.new_page()
    await stranger.goto("/dashboard/login")
    await stranger.fill("input[name=api_key]", "lsk_not_a_key")
    await stranger.click("form.login button[type=submit]")
    await expect(stranger.locator("p.error")).to_be_visible()
    await stranger.goto("/dashboard/leads")
    await expect(stranger.locator("h1")).to_have_text("Sign in")

    page = await sign_in(browser, stack, stack.b)
    await page.click("header nav >> text=Leads")
    await expect(page.locator("h1")).to_have_text("Leads")
    await expect(page.locator(f"a[href='/dashboard/leads/{conversation_id}']")).to_have_count(0)
    await page.goto(f"/dashboard/leads/{conversation_id}")
    await expect(page.locator("p.error")).to_contain_text("no lead")
    await page.goto("/dashboard/")
    await expect(page.locator("section.card")).to_have_count(1)
    await expect(page.locator(f"[data-property='{stack.a.property_id}']")).to_have_count(0)

    # A form whose token is not this session's (as a forging page would send) is refused.
    await page.goto("/dashboard/integrations")
    await page.evaluate(
        "document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged')"
    )
    await page.locator("tr.integration button[value=pause]").click()
    await expect(page.locator("p.error")).to_contain_text("CSRF token refused")
    async with stack.runtime.sessionmaker() as session:
        integration = await session.get(ResmanIntegration, stack.b.integration_id)
    assert integration is not None
    assert integration.sync_enabled
