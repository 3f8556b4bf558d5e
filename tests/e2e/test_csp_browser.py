"""The pages under their Content-Security-Policy in a real headless Chromium, against the
real gunicorn app: the home page (with a song playing) and the admin page (with its charts
and tables filled) load with no policy violation in the console, and the policy is really
enforced: inline code added to a page is refused and reported."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.integration


@pytest.fixture
def violations(page) -> list[str]:
    """Console messages of the page that report a Content-Security-Policy violation."""
    found: list[str] = []

    def on_console(message):
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", on_console)
    return found


@pytest.fixture(scope="module")
def listener(webapp_server):
    answer = requests.get(f"{webapp_server.webapp_url}/api/v1/users?limit=1", timeout=10)
    answer.raise_for_status()
    return answer.json()["items"][0]


def open_home(page, settings, user_id: str):
    answer = page.goto(f"{settings.webapp_url}/?user={user_id}")
    assert "unsafe-inline" not in answer.headers["content-security-policy"]
    page.wait_for_selector("body[data-ready=true]")


def test_the_home_page_plays_a_song_without_a_violation(page, violations, settings, listener):
    open_home(page, settings, listener["id"])
    first = page.get_by_test_id("rec-item").first
    song_id = first.get_attribute("data-song-id")
    first.get_by_test_id("play-song").click()
    page.wait_for_selector(f'[data-testid=player][data-song-id="{song_id}"][data-state=playing]')
    # The progress bar moves (its width is set through the CSSOM, which the policy allows).
    # A predicate is a function: Playwright evaluates a bare expression with eval, which the
    # policy refuses.
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=progress]').ariaValueNow) > 0"
    )
    page.get_by_test_id("play-pause").click()
    assert violations == []


def test_the_admin_page_fills_without_a_violation(page, violations, settings, webapp_server):
    answer = page.goto(f"{settings.webapp_url}/admin")
    assert answer.headers["x-frame-options"] == "DENY"
    page.get_by_test_id("token-input").fill(settings.admin_token)
    page.get_by_test_id("token-submit").click()
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_test_id("admin-content").wait_for()
    page.get_by_test_id("experiment-arms").wait_for()
    assert violations == []


def test_inline_code_is_refused_and_reported(page, violations, settings, webapp_server):
    """The check above would see a violation: a script and a style added inline are
    refused, and Chromium reports each in the console."""
    page.goto(f"{settings.webapp_url}/admin")
    page.get_by_test_id("token-form").wait_for()
    ran = page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.__inline_ran = true";
          document.body.append(script);
          const styled = document.createElement("p");
          styled.setAttribute("style", "color: red");
          document.body.append(styled);
          return Boolean(window.__inline_ran);
        }"""
    )
    assert ran is False
    page.wait_for_timeout(200)  # let the console messages arrive
    assert any("inline script" in v for v in violations), violations
    assert any("inline style" in v for v in violations), violations
