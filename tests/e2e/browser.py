"""A real headless Chromium for the page tests, driven by Playwright's sync API.

The browser is the system's Chromium (``make browser`` installs it on Debian); Playwright
downloads none. Screenshots go to ``artifacts/screenshots/`` (git-ignored) for review.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from recsys.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 375, "height": 800}


@contextmanager
def chromium():
    """The launched browser; fails (never skips) with what to do when it cannot start."""
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make browser` (Debian: chromium package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed in this environment: run `make venv`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(browser, viewport: dict[str, int]):
    """A fresh context (its own localStorage) and page; JavaScript errors fail the test."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def ids_of(page, testid: str, attribute: str = "data-song-id") -> list[str]:
    """The ``attribute`` of every element with data-testid ``testid``, in page order."""
    return page.locator(f'[data-testid="{testid}"]').evaluate_all(
        f"nodes => nodes.map(n => n.getAttribute('{attribute}'))"
    )
