"""The directory page in a real headless browser (the system's Chromium, driven by playwright):
the entries render, the filter works from the keyboard, injected script does not run, and
nothing is fetched from anywhere but the page itself. The page is served over loopback HTTP by a
server the test starts and stops."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from relay.core.directory import PAGE_NAME, Entry, render_page

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
JOINED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# Each of these would set window.pwned (or the title) if it ran.
EVIL_BIO = (
    "<p>Family therapist<script>window.pwned = 'script'; document.title = 'pwned'</script>"
    "<img src=x onerror=\"window.pwned = 'onerror'; document.title = 'pwned'\">"
    '<a href="javascript:window.pwned=\'link\'" id="evil">my site</a>'
    "<svg onload=\"window.pwned = 'svg'\"></svg></p>"
)


def entry(acct: str, name: str, bio: str, intro: str | None = None) -> Entry:
    user, _, domain = acct.partition("@")
    return Entry(acct, name, f"https://{domain}/@{user}", intro, None, bio, JOINED)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """The directory page with three members (one with a hostile bio), served on a free loopback port."""
    members = [
        entry("ann@one.example", "Ann Lee", "<p>Counsellor in Leeds</p>"),
        entry(
            "bob@two.example",
            "Bob Roy",
            "<p>Play therapist in Cork</p>",
            intro="<p>Hello, I work with kids</p>",
        ),
        entry("eve@three.example", "Eve", EVIL_BIO),
    ]
    (tmp_path / PAGE_NAME).write_text(render_page("#TherapistsConnect directory", members, generated=JOINED))
    (tmp_path / "directory.csv").write_text("Account address,Show boosts,Notify on new posts,Languages\n")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[tuple[Page, list[str]]]:
    """The page loaded on a phone-sized screen, and every URL it requested."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=True)
    tab = context.new_page()
    requested: list[str] = []
    tab.on("request", lambda request: requested.append(request.url))
    tab.goto(site)
    try:
        yield tab, requested
    finally:
        context.close()


def visible_handles(tab: Page) -> list[str]:
    return [h.inner_text() for h in tab.locator("li.member:visible .handle").all()]


class TestDirectoryPage:
    def test_entries_render(self, page: tuple[Page, list[str]]) -> None:
        """Every member shows with name, handle and text; the title is the directory's."""
        tab, _ = page
        assert tab.title() == "#TherapistsConnect directory"
        assert visible_handles(tab) == ["@ann@one.example", "@bob@two.example", "@eve@three.example"]
        assert tab.get_by_role("heading", level=3).all_inner_texts() == ["Ann Lee", "Bob Roy", "Eve"]
        assert "Hello, I work with kids" in tab.locator("li.member").nth(1).inner_text()
        assert (
            tab.get_by_role("link", name="Follow everyone at once").get_attribute("href") == "directory.csv"
        )

    def test_filter_works_from_the_keyboard(self, page: tuple[Page, list[str]]) -> None:
        """Tab reaches the labelled filter; typing narrows the list; clearing it shows everyone."""
        tab, _ = page
        for _ in range(10):
            tab.keyboard.press("Tab")
            if tab.evaluate("document.activeElement.id") == "filter":
                break
        assert tab.evaluate("document.activeElement.id") == "filter"
        assert tab.get_by_label("Filter by name, handle, server or words").is_visible()
        tab.keyboard.type("KIDS")
        assert visible_handles(tab) == ["@bob@two.example"]
        assert tab.locator("#count").inner_text() == "1 of 3 shown"
        tab.keyboard.press("Control+A")
        tab.keyboard.type("one.example ann")
        assert visible_handles(tab) == ["@ann@one.example"]
        tab.keyboard.press("Control+A")
        tab.keyboard.press("Backspace")
        assert len(visible_handles(tab)) == 3

    def test_injected_script_does_not_run(self, page: tuple[Page, list[str]]) -> None:
        """The hostile bio's script, onerror, onload and javascript: link never run."""
        tab, _ = page
        assert tab.evaluate("window.pwned") is None
        assert tab.title() == "#TherapistsConnect directory"
        assert tab.locator("li.member script, li.member img, li.member svg").count() == 0
        evil = tab.locator("li.member", has_text="my site").get_by_text("my site")
        assert evil.get_attribute("href") is None  # the javascript: URL was removed
        evil.click()
        assert tab.evaluate("window.pwned") is None
        assert "Family therapist" in tab.locator("li.member").nth(2).inner_text()

    def test_no_third_party_requests(self, page: tuple[Page, list[str]], site: str) -> None:
        """The page itself is the only thing the browser fetched (no fonts, images, scripts)."""
        tab, requested = page
        tab.wait_for_load_state("networkidle")
        assert [url for url in requested if not url.startswith(site)] == []
