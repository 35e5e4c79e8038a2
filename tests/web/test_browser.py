"""The public pages in a real browser: Debian's Chromium driven by Playwright. What a person
sees on each page (with JavaScript off: the pages need none), the keyboard path through
them, and axe-core's accessibility check with no serious or critical violation. Screenshots
of every page are kept in artifacts/web/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from governance.clock import FakeClock
from governance.db import Database
from tests.web.browser import ARTIFACTS, axe_script, chromium
from tests.web.conftest import PATH, web_app
from tests.web.test_pages import PAGES
from tests.web.world import NAMED_ACCOUNT, PRIVATE, PUBLIC_SUMMARY, World, seed


@pytest.fixture
async def site(sqlite_db: Database, clock: FakeClock) -> AsyncIterator[tuple[str, World]]:
    world = await asyncio.to_thread(seed, sqlite_db, clock)
    server = TestServer(web_app(sqlite_db, clock), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url(PATH)), world
    finally:
        await server.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    executable = chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable,
                                                    args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def test_every_page_shows_what_it_should_without_javascript(
        site: tuple[str, World], browser: Any) -> None:
    base, world = site
    context = await browser.new_context(java_script_enabled=False,
                                        viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    expected = {
        "overview": [f"#{world.overdue_ticket}", "overdue by 2h", "prettytable",
                     "Projects without a lead"],
        "escalations": ["1 open, 1 of them overdue", "acknowledge by ad", "overdue by 2h",
                        "Escalations per month of opening", "Recently closed"],
        "votes": [f"Vote #{world.secret_vote}", "choices and the count stay sealed",
                  "2: adam, ada", f"Vote #{world.closed_vote}", "passed",
                  "Recount from the ballots: matches"],
        "projects": ["pip-tools", "alice", "0 done, 3 left", "Add a README badge"],
        "digest": ["Daily digest, Monday 2026-01-05, as of 2026-01-05 15:00 (UTC)",
                   "Escalations breached or due within 24h", f"#{world.overdue_ticket}",
                   "Nominations waiting for the nominee", "gina as lead of prettytable",
                   "2 blocks opened or confirmed in the last day", "ada until"],
        "moderation": ["Moderation cases by state", "active", "Published cases",
                       f"Case #{world.published_case}: {NAMED_ACCOUNT}, active",
                       PUBLIC_SUMMARY],
        "audit": ["Head hash", "How to verify", "roadie audit verify"],
    }
    for name in PAGES:
        response = await page.goto(f"{base}/{name}")
        assert response is not None
        assert response.status == 200
        heading = page.get_by_role("heading", level=1)
        assert (await heading.inner_text()).strip() == name.capitalize()
        current = page.get_by_role("navigation", name="Pages").get_by_role("link", name=name,
                                                                             exact=False)
        assert await current.first.get_attribute("aria-current") == "page"
        seen = await page.locator("main").inner_text()
        for text in expected[name]:
            assert text in seen, (name, text)
        for secret in PRIVATE:
            assert secret not in seen, (name, secret)
        await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    chart = page.get_by_role("img", name="Mean time to resolve, per month of opening")
    await page.goto(f"{base}/escalations")
    assert await chart.is_visible()
    await context.close()


async def test_the_keyboard_reaches_the_content_and_every_page(site: tuple[str, World],
                                                                browser: Any) -> None:
    base, _ = site
    page = await browser.new_page()
    await page.goto(f"{base}/overview")
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the content")
    assert await skip.evaluate("link => link === document.activeElement")
    assert await skip.is_visible()  # shown when focused
    reached = []
    for _ in range(len(PAGES)):
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate("document.activeElement.textContent.trim()"))
    assert reached == [name.capitalize() for name in PAGES]
    await page.keyboard.press("Enter")  # follows the focused link: Audit
    await page.wait_for_url(f"{base}/audit")


async def test_no_page_has_a_serious_accessibility_violation(site: tuple[str, World],
                                                             browser: Any) -> None:
    base, _ = site
    axe = axe_script()
    page = await browser.new_page()
    problems = []
    for name in PAGES:
        await page.goto(f"{base}/{name}")
        await page.add_script_tag(path=str(axe))
        results = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        problems += [f"{name}: {v['id']} ({v['impact']}): {v['help']}"
                     for v in results["violations"] if v["impact"] in ("serious", "critical")]
        assert results["passes"] is not None
    assert problems == []
