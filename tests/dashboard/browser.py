"""Playwright driving Debian's chromium (Playwright's own browser download cannot run here).

Tests that need it skip with a message saying what is missing: the ``playwright`` package
(the dev extra) or a ``chromium`` binary (``apt-get install chromium``; or point
``LEADSYNC_CHROMIUM`` at one).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import pytest

from stack import PATIENCE, Stack, Tenant

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = (
    os.environ.get("LEADSYNC_CHROMIUM")
    or shutil.which("chromium")
    or shutil.which("chromium-browser")
)
HAVE_PLAYWRIGHT = importlib.util.find_spec("playwright") is not None
#: Playwright's waits, in milliseconds: a state, never a duration, decides.
WAIT_MS = PATIENCE * 1000

needs_browser = [
    pytest.mark.skipif(
        not HAVE_PLAYWRIGHT,
        reason="browser tests skipped: the playwright package is missing (pip install -e '.[dev]')",
    ),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="browser tests skipped: no chromium binary (apt-get install chromium, "
        "or set LEADSYNC_CHROMIUM)",
    ),
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=WAIT_MS)
    assert CHROMIUM is not None
    # Chromium's sandbox cannot start as root (CI runs as root).
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            await browser.close()


async def sign_in(browser: Browser, stack: Stack, tenant: Tenant) -> Page:
    """A new browser context (its own cookies) signed in through the login form."""
    from playwright.async_api import expect

    context = await browser.new_context(
        base_url=str(stack.api.base_url), viewport={"width": 1280, "height": 860}
    )
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto("/dashboard/login")
    await page.fill("input[name=api_key]", tenant.api_key)
    await page.click("form.login button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Sync health")
    return page
