"""Screenshots of every dashboard page, for the README, from a running leadsync.

    make run   # in another terminal; note the printed Dashboard URL and Demo API key
    PYTHONPATH=tests .venv/bin/python tests/dashboard/screenshots.py \
        http://127.0.0.1:8000 lsk_... docs/screenshots

Uses Debian's chromium like the browser tests (``LEADSYNC_CHROMIUM`` to point elsewhere).
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from playwright.async_api import Page, async_playwright

from dashboard.browser import CHROMIUM, WAIT_MS

PAGES = {
    "health": "/dashboard/",
    "conflicts": "/dashboard/conflicts",
    "leads": "/dashboard/leads",
    "dead-letters": "/dashboard/dead-letters",
    "integrations": "/dashboard/integrations?doctor=true",
}


async def _shoot(page: Page, path: str, target: Path) -> None:
    await page.goto(path)
    await page.wait_for_selector("#live-status[data-state=live]")
    data_conflict = page.locator("section.conflict:has(form.decide)")
    if await data_conflict.count():  # show a field conflict rather than a duplicate
        await data_conflict.first.evaluate("e => e.scrollIntoView()")
    await page.screenshot(path=str(target), full_page=False)
    print(f"wrote {target}")


async def main(base_url: str, api_key: str, folder: Path) -> None:
    if CHROMIUM is None:
        raise SystemExit("no chromium binary (apt-get install chromium)")
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = await browser.new_context(
            base_url=base_url, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(WAIT_MS)
        page = await context.new_page()
        await page.goto("/dashboard/login")
        await _shoot_login(page, folder)
        await page.fill("input[name=api_key]", api_key)
        await page.click("form.login button[type=submit]")
        await page.wait_for_url("**/dashboard/")
        for name, path in PAGES.items():
            await _shoot(page, path, folder / f"{name}.png")
        # A lead's timeline: one the office acted on (its status moved past "new").
        await page.goto("/dashboard/leads")
        fresh = page.locator("td.status", has_text=re.compile(r"^new$"))
        acted = page.locator("table.list tbody tr").filter(has_not=fresh)
        await acted.first.locator("a").click()
        await page.wait_for_selector("ol.timeline")
        await _shoot(page, page.url, folder / "timeline.png")
        await browser.close()


async def _shoot_login(page: Page, folder: Path) -> None:
    await page.screenshot(path=str(folder / "login.png"))
    print(f"wrote {folder / 'login.png'}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    target = Path(sys.argv[3])
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(sys.argv[1], sys.argv[2], target))
