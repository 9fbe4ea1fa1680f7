"""The page in a real headless Chromium (Debian's, never downloaded)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from fastapi import FastAPI

from awaitkit.servers import serving_web
from tests.conftest import find_binary

# Playwright's own start-up holds the loop ~0.3 s (loopdebug), not ours.
pytestmark = [pytest.mark.anyio, pytest.mark.browser, pytest.mark.blocks_loop]

CHROMIUM_ARGS = [
    "--no-sandbox",  # the suite may run as root, where the sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
XSS = '<img src=x onerror="window.__xss=1">'
SCREENSHOT = "/tmp/mojifinder-page.png"


@contextlib.asynccontextmanager
async def browsing(
    web_app: FastAPI, *, javascript: bool = True
) -> AsyncIterator[tuple[object, str]]:
    from playwright.async_api import async_playwright

    chromium = find_binary("chromium")
    async with serving_web(web_app) as url, async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(java_script_enabled=javascript)
            if javascript:
                await context.grant_permissions(
                    ["clipboard-read", "clipboard-write"], origin=url
                )
            page = await context.new_page()
            page.set_default_timeout(10_000)
            dialogs: list[str] = []
            page.on("dialog", lambda d: dialogs.append(d.message))
            yield page, url
            assert dialogs == []
        finally:
            await browser.close()


async def test_typing_finds_cat_face_and_click_copies(web_app: FastAPI) -> None:
    """Search as you type shows the 🐱 row and a count; clicking the char copies it."""
    from playwright.async_api import Page, expect

    async with browsing(web_app) as (page, url):
        assert isinstance(page, Page)
        await page.goto(url + "/")
        await page.locator("#q").press_sequentially("cat face", delay=20)
        first = page.locator("#results tr").first
        await expect(first.locator("td.char")).to_have_text("\U0001f431")
        await expect(first.locator("td.code")).to_have_text("U+1F431")
        await expect(first.locator("td.name")).to_have_text("CAT FACE")
        await expect(page.locator("#caption")).to_have_text("10 found")
        assert page.url.endswith("/?q=cat%20face")
        await page.screenshot(path=SCREENSHOT, full_page=True)
        await first.locator("td.char").click()
        await expect(page.locator("#copied")).to_have_text("copied \U0001f431")
        assert await page.evaluate("navigator.clipboard.readText()") == "\U0001f431"


async def test_xss_in_query_stays_text_typed_and_server_rendered(
    web_app: FastAPI,
) -> None:
    from playwright.async_api import Page, expect

    async with browsing(web_app) as (page, url):
        assert isinstance(page, Page)
        await page.goto(url + "/")
        await page.locator("#q").fill(XSS)
        await expect(page.locator("#results td.char").first).to_have_text("<")
        await page.goto(url + "/?q=" + quote(XSS))
        await expect(page.locator("#q")).to_have_value(XSS)
        await expect(page.locator("#results td.char").first).to_have_text("<")
        assert await page.locator("#results img").count() == 0
        assert await page.evaluate("window.__xss") is None


async def test_form_works_without_javascript(web_app: FastAPI) -> None:
    from playwright.async_api import Page, expect

    async with browsing(web_app, javascript=False) as (page, url):
        assert isinstance(page, Page)
        await page.goto(url + "/")
        await page.locator("#q").fill("cat face")
        await page.locator("#q").press("Enter")
        await page.wait_for_url("**/?q=cat+face")
        await expect(page.locator("#results tr").first.locator("td.char")).to_have_text(
            "\U0001f431"
        )
        await expect(page.locator("#caption")).to_have_text("10 found")
