"""The page in a real headless Chromium (Debian's, never downloaded)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from fastapi import FastAPI

from awaitkit.find import CharIndex
from awaitkit.servers import create_app, serving_web
from tests.conftest import find_binary
from tests.servers._contract_index import ContractIndex, PlainIndex

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
    web_app: FastAPI, *, javascript: bool = True, locale: str | None = None
) -> AsyncIterator[tuple[object, str]]:
    from playwright.async_api import async_playwright

    chromium = find_binary("chromium")
    async with serving_web(web_app) as url, async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                java_script_enabled=javascript, locale=locale
            )
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
        await expect(page.locator("#caption")).to_have_text("11 found")
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
        await expect(page.locator("#caption")).to_have_text("11 found")


async def test_arrow_keys_and_enter_copy_the_selected_result(web_app: FastAPI) -> None:
    """Down, Down, Up, Down selects the third row; Enter copies it and says so."""
    from playwright.async_api import Page, expect

    async with browsing(web_app) as (page, url):
        assert isinstance(page, Page)
        await page.goto(url + "/")
        q = page.locator("#q")
        await q.press_sequentially("cat face", delay=20)
        rows = page.locator("#results tr")
        await expect(page.locator("#caption")).to_have_text("11 found")
        for key in ("ArrowDown", "ArrowDown", "ArrowDown", "ArrowUp", "ArrowDown"):
            await q.press(key)
        await expect(rows.nth(2)).to_have_class("kind-char via-name selected")
        await expect(page.locator("#results tr.selected")).to_have_count(1)
        third = await rows.nth(2).locator("td.char").text_content()
        assert third is not None
        assert third != "\U0001f431"
        await expect(q).to_have_attribute("aria-activedescendant", "selected-result")
        await q.press("Enter")
        await expect(page.locator("#copied")).to_have_text(f"copied {third}")
        await expect(page.locator("#copied")).to_have_class("shown")
        assert await page.evaluate("navigator.clipboard.readText()") == third
        # Up at the top stays at the top; Enter copies the first row then.
        for _ in range(5):
            await q.press("ArrowUp")
        await q.press("Enter")
        await expect(page.locator("#copied")).to_have_text("copied \U0001f431")
        assert await page.evaluate("navigator.clipboard.readText()") == "\U0001f431"
        # Typing again drops the selection: Enter searches, it copies nothing stale.
        await page.evaluate("navigator.clipboard.writeText('untouched')")
        await q.press_sequentially(" grinning", delay=20)
        await q.press("Enter")
        await expect(page.locator("#caption")).to_have_text("2 found")
        await expect(page.locator("#results tr.selected")).to_have_count(0)
        assert await page.evaluate("navigator.clipboard.readText()") == "untouched"


async def test_escape_unselects_and_end_selects_the_last(web_app: FastAPI) -> None:
    from playwright.async_api import Page, expect

    async with browsing(web_app) as (page, url):
        assert isinstance(page, Page)
        await page.goto(url + "/?q=cat%20face")  # rows rendered by the server
        q = page.locator("#q")
        await q.press("ArrowDown")
        await q.press("End")
        await expect(page.locator("#results tr").last).to_have_class(
            "kind-char via-keyword selected"  # TIGER FACE, keyword "cat"
        )
        await q.press("Escape")
        await expect(page.locator("#results tr.selected")).to_have_count(0)
        await expect(q).to_have_value("cat face")


async def test_sequence_result_shows_whole(web_app: FastAPI) -> None:
    """``flag brazil`` finds the flag: one glyph of two code points, copied whole."""
    from playwright.async_api import Page, expect

    async with browsing(web_app) as (page, url):
        assert isinstance(page, Page)
        await page.goto(url + "/")
        await page.locator("#q").press_sequentially("flag brazil", delay=20)
        first = page.locator("#results tr").first
        await expect(first.locator("td.char")).to_have_text("\U0001f1e7\U0001f1f7")
        await expect(first.locator("td.code")).to_have_text("U+1F1E7 U+1F1F7")
        await page.locator("#q").press("ArrowDown")
        await page.locator("#q").press("Enter")
        assert (
            await page.evaluate("navigator.clipboard.readText()")
            == "\U0001f1e7\U0001f1f7"
        )


async def test_page_follows_the_browser_language_and_marks_keywords(
    index: CharIndex,
) -> None:
    """A French browser asks in French when the index can; keyword matches are marked.

    The index here is the real one plus the ``types``/``lang`` arguments and
    the kinds of result to come (see ``_contract_index``), so the page shows
    the whole result contract: a sequence, a keyword match and a French name.
    """
    from playwright.async_api import Page, expect

    contract = ContractIndex(index)
    app = create_app(contract)
    async with browsing(app, locale="fr-FR") as (page, url):
        assert isinstance(page, Page)
        await page.goto(url + "/")
        q = page.locator("#q")
        await q.press_sequentially("cat face", delay=20)
        first = page.locator("#results tr").first
        await expect(first.locator("td.name")).to_have_text("t\u00eate de chat")
        assert {"text": "cat face", "lang": "fr"} in contract.calls
        await q.fill("sad")
        await expect(first.locator("td.name")).to_have_text("CRYING FACE keyword")
        await expect(first.locator("td.name span.via")).to_have_text("keyword")
        await expect(first).to_have_class("kind-char via-keyword")
        await q.fill("flag brazil")
        await expect(first.locator("td.code")).to_have_text("U+1F1E7 U+1F1F7")
        await expect(first).to_have_class("kind-sequence via-name")
        await q.press("ArrowDown")
        await q.press("Enter")
        assert (
            await page.evaluate("navigator.clipboard.readText()")
            == "\U0001f1e7\U0001f1f7"
        )
        family = await page.evaluate(
            "getComputedStyle(document.querySelector('td.char')).fontFamily"
        )
        assert family.startswith('"Noto Color Emoji", "Apple Color Emoji"')


async def test_browser_language_the_index_lacks_is_not_sent(index: CharIndex) -> None:
    """A German browser on an index without lang: no lang parameter, results still."""
    from playwright.async_api import Page, expect

    async with browsing(create_app(PlainIndex(index)), locale="de-DE") as (page, url):
        assert isinstance(page, Page)
        await page.goto(url + "/")
        async with page.expect_request("**/search?*") as info:
            await page.locator("#q").press_sequentially("cat face", delay=20)
        request = await info.value
        assert "lang=" not in request.url
        await expect(page.locator("#caption")).to_have_text("11 found")
