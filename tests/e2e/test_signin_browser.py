"""The player's sign-in in real Chromium against the real gunicorn in token mode (the test
stack's default, with demo sign-in on): picking a demo listener signs in as them, a song
plays and its events reach Kafka as that listener, sign-out ends it; a new listener signs up
with a password, signs out and back in. The token lives in an HttpOnly cookie the page's
scripts never see."""

from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.test_player_browser import open_home, player_state
from tests.kafka_helpers import end_offsets, records_since

pytestmark = pytest.mark.integration


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def signed_in(page) -> dict:
    return page.evaluate("""async () => (await fetch("/api/v1/auth/me")).json()""")


def test_a_demo_listener_signs_in_plays_and_signs_out(page, settings, webapp_server, world):
    listener = world.users[7]
    start = end_offsets(settings)
    open_home(page, settings, listener["id"])
    assert page.get_by_test_id("current-user-name").text_content() == listener["display_name"]
    assert page.evaluate("() => document.body.dataset.signedIn") == "true"
    assert "musicrec_token" not in page.evaluate("() => document.cookie")  # HttpOnly
    assert signed_in(page)["user"]["id"] == listener["id"]

    first = page.get_by_test_id("rec-item").first
    song_id = first.get_attribute("data-song-id")
    first.get_by_test_id("play-song").click()
    page.wait_for_selector(f'[data-testid=player][data-song-id="{song_id}"][data-state=playing]')
    assert player_state(page)["songId"] == song_id

    def sent():
        events = records_since(settings, start)
        return [e for e in events if e["track_id"] == song_id and e["user_id"] == listener["id"]]

    wait_for(sent, 30, "the player's events for the song in Kafka")

    page.get_by_test_id("sign-out").click()
    page.wait_for_selector("body[data-signed-in=false]")
    assert page.get_by_test_id("listening-as").is_hidden()
    assert not signed_in(page)["signed_in"]
    refused = page.evaluate(
        f"""async () => (await fetch("/api/v1/recs/{listener["id"]}?limit=1")).status"""
    )
    assert refused == 401


def test_a_new_listener_signs_up_out_and_back_in_with_a_password(page, settings, webapp_server):
    name = f"browser{time.time_ns() % 10**9}"
    open_home(page, settings)
    page.get_by_test_id("new-user-summary").click()
    page.get_by_test_id("new-user-name").fill("Browser Listener")
    page.get_by_test_id("new-user-username").fill(name)
    page.get_by_test_id("new-user-password").fill("correct horse battery")
    page.get_by_test_id("new-user-submit").click()
    page.wait_for_selector("body[data-signed-in=true]")
    page.get_by_test_id("rec-item").first.wait_for()
    assert page.get_by_test_id("current-user-name").text_content() == "Browser Listener"

    page.get_by_test_id("sign-out").click()
    page.wait_for_selector("body[data-signed-in=false]")
    form = page.get_by_test_id("signin-form")
    assert form.is_visible()
    page.get_by_test_id("signin-username").fill(name)
    page.get_by_test_id("signin-password").fill("not the password")
    page.get_by_test_id("signin-submit").click()
    page.wait_for_function(
        """() => document.querySelector('[data-testid=signin-error]').textContent.length > 0"""
    )
    assert "wrong" in page.get_by_test_id("signin-error").text_content()
    page.get_by_test_id("signin-password").fill("correct horse battery")
    page.get_by_test_id("signin-submit").click()
    page.wait_for_selector("body[data-signed-in=true]")
    me = signed_in(page)
    assert me["user"]["display_name"] == "Browser Listener"
    # the same listener through the API needs their token: no cookie, no answer
    plain = requests.get(f"{settings.webapp_url}/api/v1/users/{me['user']['id']}", timeout=10)
    assert plain.status_code == 401
