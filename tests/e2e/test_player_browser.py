"""The web player and the admin page in a real headless Chromium, against the real stack
(gunicorn, Kafka, Redis, PostgreSQL, a trained ALS model).

Songs of the demo catalogue have no audio, so the player's simulated clock runs at
RECSYS_PLAYER_CLOCK_SPEED (40 in the test session): a song takes a few seconds.
Screenshots: artifacts/screenshots/{home,player,admin}.png.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter

import pytest
import requests

from recsys import db
from recsys import model_registry as registry
from recsys.events import is_play
from tests.auth_helpers import listener_headers, service_headers
from tests.e2e.browser import NARROW, WIDE, ids_of, open_page, screenshot
from tests.kafka_helpers import end_offsets, records_since

pytestmark = pytest.mark.integration

SONGS_PLAYED = 3
# A script element runs only when parsed into a page; an image's onerror runs from innerHTML too.
HOSTILE_NAMES = ["<script>window.__xss=1</script>", "<img src=x onerror=window.__xss=1>"]


@pytest.fixture(scope="module")
def listener(webapp_server, settings):
    """A listener of the demo world (with history, so with an ALS vector once trained)."""
    answer = requests.get(f"{settings.webapp_url}/api/v1/users?limit=1", timeout=10)
    answer.raise_for_status()
    return answer.json()["items"][0]


def new_listener(settings, name: str, genres: list[str]) -> dict:
    created = requests.post(
        f"{settings.webapp_url}/api/v1/users",
        json={"display_name": name, "onboarding_genres": genres},
        headers=service_headers(settings, "users:write:any"),
        timeout=10,
    )
    assert created.status_code == 201, created.text
    return created.json()


def wait_for(condition, timeout_s: float, what: str, poll_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


def open_home(page, settings, user_id: str | None = None):
    query = f"?user={user_id}" if user_id else ""
    page.goto(f"{settings.webapp_url}/{query}")
    page.wait_for_selector("body[data-ready=true]")


def pick_listener(page, user: dict):
    page.get_by_test_id("user-select").select_option(user["id"])
    page.wait_for_url(f"**/?user={user['id']}")
    page.get_by_test_id("rec-item").first.wait_for()
    assert page.get_by_test_id("current-user-name").text_content() == user["display_name"]


def player_state(page) -> dict:
    return page.get_by_test_id("player").evaluate("node => ({...node.dataset})")


def check_events(events: list[dict], played: list[str]):
    """Each played song: one listen once play_min_seconds were heard, then one complete of
    the whole song, and no skip; the two share a playback_id, so they are one play."""
    for song_id in played:
        mine = [e for e in events if e["track_id"] == song_id]
        actions = Counter(e["action"] for e in mine)
        assert actions == {"listen": 1, "complete": 1}, (song_id, mine)
        listen = next(e for e in mine if e["action"] == "listen")
        complete = next(e for e in mine if e["action"] == "complete")
        assert min(30, listen["total_duration"]) <= listen["duration"] <= listen["total_duration"]
        assert complete["duration"] == complete["total_duration"]
        assert listen["timestamp"] <= complete["timestamp"]
        assert listen["playback_id"] == complete["playback_id"]
        assert uuid.UUID(listen["playback_id"]).version == 4
        assert sum(is_play(e["action"], e["duration"], 30, e["playback_id"]) for e in mine) == 1
    playbacks = {e["playback_id"] for e in events if e["track_id"] in played}
    assert len(playbacks) == len(played)


def check_attribution(settings, shown_from, events, played, user_id):
    """Each event says which answer (an impression on Kafka) its song was played from, and
    where: the first song from the home page, at position 1; the others from Up Next."""
    shown = {
        r["rec_id"]: r
        for r in records_since(settings, shown_from, settings.kafka_impressions_topic)
        if r["user_id"] == user_id
    }
    for n, song_id in enumerate(played):
        for e in (e for e in events if e["track_id"] == song_id):
            answer = shown[e["rec_id"]]
            assert e["surface"] == answer["surface"] == ("home" if n == 0 else "up_next")
            assert answer["song_ids"][answer["positions"].index(e["position"])] == song_id
            if n == 0:
                assert e["position"] == 1


def test_a_session_plays_songs_refills_up_next_and_steers_the_home_page(
    page, settings, kafka, listener, als_model, trending_day
):
    start = end_offsets(settings)
    shown_from = end_offsets(settings, settings.kafka_impressions_topic)
    open_home(page, settings)
    pick_listener(page, listener)
    before = ids_of(page, "rec-item")
    page.get_by_test_id("trending-item").first.wait_for()
    screenshot(page, "home.png")

    first = page.get_by_test_id("rec-item").first
    first_id = first.get_attribute("data-song-id")
    first_title = first.locator(".title").text_content()
    first.get_by_test_id("play-song").click()
    page.wait_for_selector(f'[data-testid=player][data-song-id="{first_id}"][data-state=playing]')
    assert page.get_by_test_id("now-title").text_content() == first_title
    page.get_by_test_id("up-next-item").first.wait_for()
    up_next_first = ids_of(page, "up-next-item")
    assert first_id not in up_next_first
    progress = page.get_by_test_id("progress")
    wait_for(lambda: int(progress.get_attribute("aria-valuenow")) >= 10, 10, "the progress bar")
    screenshot(page, "player.png")

    # Each song takes at most 420 / 40 s at the test clock speed.
    page.wait_for_selector(f"[data-testid=player][data-completed='{SONGS_PLAYED}']", timeout=90_000)
    page.get_by_test_id("play-pause").click()  # stop here: no more events while we look
    assert player_state(page)["state"] == "paused"
    played = ids_of(page, "history-item")[::-1]
    assert ids_of(page, "history-item", "data-outcome") == ["complete"] * SONGS_PLAYED
    assert played[0] == first_id and len(set(played)) == SONGS_PLAYED
    assert played[1:] == up_next_first[: SONGS_PLAYED - 1], "Up Next did not play in order"

    # Fewer than 3 left after the third song: the queue was topped up from the song playing.
    page.wait_for_function(
        "() => document.querySelector('[data-testid=player]').dataset.refills >= 2"
    )
    up_next_now = ids_of(page, "up-next-item")
    assert set(up_next_now) - set(up_next_first), (up_next_first, up_next_now)
    assert not set(up_next_now) & set(played), "Up Next holds a song played this session"

    def session_events():
        found = [e for e in records_since(settings, start) if e["user_id"] == listener["id"]]
        return found if sum(e["action"] == "complete" for e in found) >= SONGS_PLAYED else None

    events = wait_for(session_events, 20, "the session's events in Kafka")
    check_events(events, played)
    check_attribution(settings, shown_from, events, played, listener["id"])

    def followed_the_session():
        ids = ids_of(page, "rec-item")
        return ids if ids and ids != before and not set(ids) & set(played) else None

    wait_for(followed_the_session, 20, f"For you to change from {before} without {played}")


def test_two_quick_skips_refresh_up_next(
    page, settings, webapp_server, kafka, als_model, trending_day
):
    # A new listener: no skips left in the session store by earlier tests.
    genres = requests.get(f"{settings.webapp_url}/api/v1/genres", timeout=10).json()["items"]
    listener = new_listener(settings, "Skipper", genres[:1])
    start = end_offsets(settings)
    open_home(page, settings, listener["id"])
    page.get_by_test_id("rec-item").first.get_by_test_id("play-song").click()
    page.get_by_test_id("up-next-item").first.wait_for()
    assert player_state(page)["refills"] == "1"

    skipped = []
    for _ in range(2):
        skipped.append(player_state(page)["songId"])
        page.get_by_test_id("skip").click()
        page.wait_for_function(
            "() => document.querySelector('[data-testid=player]').dataset.songId"
            f" !== '{skipped[-1]}'"
        )
    page.get_by_test_id("play-pause").click()  # no song may end and top the queue up
    # Up Next still held 3 songs: only the server's queue_stale answer refreshes it now.
    page.wait_for_function(
        "() => document.querySelector('[data-testid=player]').dataset.refills >= 2",
        timeout=10_000,
    )
    playing = player_state(page)["songId"]
    up_next = ids_of(page, "up-next-item")
    assert up_next and not set(up_next) & {*skipped, playing}
    assert ids_of(page, "history-item", "data-outcome") == ["skip", "skip"]

    def skips():
        found = [e for e in records_since(settings, start) if e["user_id"] == listener["id"]]
        return found if sum(e["action"] == "skip" for e in found) >= 2 else None

    events = wait_for(skips, 20, "the skips in Kafka")
    for song_id in skipped:
        mine = [e for e in events if e["track_id"] == song_id]
        assert [e["action"] for e in mine if e["action"] != "listen"] == ["skip"], mine
        skip = next(e for e in mine if e["action"] == "skip")
        assert 0 <= skip["duration"] < skip["total_duration"]


def test_likes_follow_the_listener_to_another_browser_and_a_dislike_never_comes_back(
    browser, settings, webapp_server, kafka, als_model
):
    genres = requests.get(f"{settings.webapp_url}/api/v1/genres", timeout=10).json()["items"]
    listener = new_listener(settings, "Heart", genres[:1])
    api = f"{settings.webapp_url}/api/v1/users/{listener['id']}"
    own = listener_headers(settings, listener["id"])
    with open_page(browser, WIDE) as first:
        open_home(first, settings, listener["id"])
        first.wait_for_selector(f'[data-testid=player][data-likes-for="{listener["id"]}"]')
        item = first.get_by_test_id("rec-item").first
        liked = item.get_attribute("data-song-id")
        item.get_by_test_id("play-song").click()
        first.wait_for_selector(f'[data-testid=player][data-song-id="{liked}"]')
        assert first.get_by_test_id("like").get_attribute("aria-pressed") == "false"
        first.get_by_test_id("like").click()
        first.wait_for_selector("[data-testid=like][aria-pressed=true]")

        def wait_for_liked():
            items = requests.get(f"{api}/likes", headers=own, timeout=10).json()["items"]
            return [i["song_id"] for i in items] == [liked]

        wait_for(wait_for_liked, 10, "the like on the server")

    with open_page(browser, WIDE) as second:  # another browser: its own localStorage
        open_home(second, settings, listener["id"])
        second.wait_for_selector(f'[data-testid=player][data-likes-for="{listener["id"]}"]')
        second.locator(
            f'[data-testid=rec-item][data-song-id="{liked}"] [data-testid=play-song]'
        ).click()
        second.wait_for_selector(f'[data-testid=player][data-song-id="{liked}"]')
        assert second.get_by_test_id("like").get_attribute("aria-pressed") == "true"

        second.get_by_test_id("dislike").click()
        second.wait_for_function(
            f"() => document.querySelector('[data-testid=player]').dataset.songId !== '{liked}'"
            " && document.querySelector('[data-testid=player]').dataset.disliked === '1'"
        )
        second.get_by_test_id("up-next-item").first.wait_for()
        assert liked not in ids_of(second, "up-next-item")
        dislikes = requests.get(f"{api}/dislikes", headers=own, timeout=10).json()["items"]
        assert [i["song_id"] for i in dislikes] == [liked]
        assert requests.get(f"{api}/likes", headers=own, timeout=10).json()["total"] == 0
        home = requests.get(
            f"{settings.webapp_url}/api/v1/recs/{listener['id']}?limit=100",
            headers=own,
            timeout=10,
        ).json()
        assert home["items"] and liked not in [i["song_id"] for i in home["items"]]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_listener_name_is_shown_as_text_and_never_run(page, settings, webapp_server, name):
    user = new_listener(settings, name, [])
    open_home(page, settings, user["id"])
    assert page.get_by_test_id("current-user-name").text_content() == name
    assert page.get_by_test_id("current-user-name").is_visible()
    option = page.locator(f'[data-testid=user-select] option[value="{user["id"]}"]')
    assert name in option.text_content()
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_a_new_listener_from_the_form_searches_and_plays(page, settings, webapp_server):
    open_home(page, settings)
    page.get_by_test_id("new-user").locator("summary").click()
    page.get_by_test_id("new-user-submit").click()
    page.get_by_test_id("new-user-error").filter(has_text="display_name").wait_for()
    page.get_by_test_id("new-user-name").fill("Form listener")
    if settings.auth_mode == "token":  # the default: the form signs up with a password
        page.get_by_test_id("new-user-username").fill(f"form{uuid.uuid4().hex[:10]}")
        page.get_by_test_id("new-user-password").fill("a password long enough")
    page.get_by_test_id("genre-choices").locator("input").first.check()
    page.get_by_test_id("new-user-submit").click()
    page.wait_for_url("**/?user=*")
    assert page.get_by_test_id("current-user-name").text_content() == "Form listener"
    user_id = page.evaluate("new URL(location.href).searchParams.get('user')")
    assert page.evaluate("localStorage.getItem('musicrec.user')") == user_id
    title = page.get_by_test_id("rec-item").first.locator(".title").text_content()

    page.get_by_test_id("search-box").fill(title)
    found = page.get_by_test_id("search-song").filter(has_text=title).first
    found.wait_for()
    song_id = found.get_attribute("data-song-id")
    found.get_by_test_id("play-song").click()
    page.wait_for_selector(f'[data-testid=player][data-song-id="{song_id}"][data-state=playing]')
    assert page.get_by_test_id("now-title").text_content() == title


@pytest.fixture
def charted_versions(postgres):
    """Two gate-rejected versions with holdout metrics a day apart: chart points that serve
    nothing, removed after the test."""
    versions = []
    with db.connect(postgres, autocommit=True) as conn:
        for days_ago, ndcg in ((2, 0.05), (1, 0.07)):
            day = dt.date.today() - dt.timedelta(days=days_ago)
            version = registry.create_run(
                conn, day - dt.timedelta(days=14), day, day - dt.timedelta(days=7), {}, None
            )
            metrics = {"model": {"ndcg": ndcg, "k": 10}, "popularity": {"ndcg": 0.04, "k": 10}}
            registry.finish_run(conn, version, "rejected", "test version", metrics=metrics)
            conn.execute(
                "update model.als_runs set finished_at = now() - %s where version = %s",
                (dt.timedelta(days=days_ago), version),
            )
            versions.append(version)
        # what listeners did with the newer one's home answers, as the online_metrics DAG
        # writes it: 15 of 20 ended playbacks heard to the end
        conn.execute(
            "insert into analytics.online_metrics values ('2097-05-01', 'home', %s, null, null,"
            " 8, 80, 30, 24, 20, 15, 5, 1, 0, 3000, now())",
            (versions[1],),
        )
    yield versions
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute("delete from analytics.online_metrics where day = '2097-05-01'")
        conn.execute("delete from model.als_runs where version = any(%s)", (versions,))


def test_admin_page_charts_the_versions_and_shows_freshness(
    page, settings, webapp_server, als_model, charted_versions
):
    admin = {"Authorization": f"Bearer {settings.admin_token}"}
    models = requests.get(f"{settings.webapp_url}/api/v1/admin/models", headers=admin, timeout=10)
    versions = models.json()["versions"]
    with_metrics = [v["version"] for v in versions if (v["metrics"] or {}).get("model")]
    assert set(charted_versions) <= set(with_metrics)

    page.goto(f"{settings.webapp_url}/admin")
    page.get_by_test_id("token-input").fill("not-the-token")
    page.get_by_test_id("token-submit").click()
    page.get_by_test_id("admin-error").filter(has_text="wrong").wait_for()
    assert page.get_by_test_id("admin-content").is_hidden()

    page.get_by_test_id("token-input").fill(settings.admin_token)
    page.get_by_test_id("token-submit").click()
    page.wait_for_selector("body[data-ready=true]")
    assert page.get_by_test_id("admin-error").text_content() == ""

    chart = page.get_by_test_id("chart-svg")
    assert chart.get_by_test_id("chart-x-axis").count() == 1
    assert chart.get_by_test_id("chart-y-axis").count() == 1
    charted = ids_of(page, "chart-point-model", "data-version")
    assert sorted(map(int, charted)) == sorted(with_metrics)
    assert ids_of(page, "chart-point-popularity", "data-version") == charted
    online = page.get_by_test_id("online-chart-svg")
    bars = online.get_by_test_id("online-bar-play_through_rate")
    assert bars.count() >= 1
    served = online.locator(
        f'[data-testid=online-bar-play_through_rate][data-version="{charted_versions[1]}"]'
    )
    assert float(served.get_attribute("data-value")) == 0.75
    skip = online.locator(
        f'[data-testid=online-bar-skip_rate][data-version="{charted_versions[1]}"]'
    )
    assert float(skip.get_attribute("data-value")) == 0.25
    newer = page.locator(f'[data-testid=model-row][data-version="{charted_versions[1]}"]')
    assert newer.get_by_test_id("online-home").text_content() == "0.7500"
    assert newer.get_by_test_id("online-up_next").text_content() == "–"
    active = page.locator('[data-testid=model-row]:has([data-testid="active-badge"])')
    assert active.get_attribute("data-version") == str(models.json()["active"])
    rejected = page.locator(f'[data-testid=model-row][data-version="{charted_versions[0]}"]')
    assert rejected.get_by_test_id("activate").count() == 0, "a rejected version is activatable"

    entries = page.get_by_test_id("freshness-value")
    assert entries.count() == 4
    assert page.get_by_test_id("airflow-state").get_attribute("data-airflow") in (
        "available",
        "unavailable",
    )
    screenshot(page, "admin.png")


def test_the_home_page_fits_a_phone_and_uses_two_columns_on_a_desktop(browser, settings, listener):
    with open_page(browser, NARROW) as phone:
        open_home(phone, settings, listener["id"])
        phone.get_by_test_id("rec-item").first.wait_for()
        width = phone.evaluate("document.scrollingElement.scrollWidth")
        assert width <= NARROW["width"], f"horizontal scroll: content is {width}px wide"
        player, recs = phone.get_by_test_id("player"), phone.get_by_test_id("recs-list")
        assert player.bounding_box()["y"] < recs.bounding_box()["y"], "phone: player above lists"
        screenshot(phone, "home-phone.png")
    with open_page(browser, WIDE) as desktop:
        open_home(desktop, settings, listener["id"])
        desktop.get_by_test_id("rec-item").first.wait_for()
        player, recs = desktop.get_by_test_id("player"), desktop.get_by_test_id("recs-list")
        assert player.bounding_box()["x"] > recs.bounding_box()["x"] + recs.bounding_box()["width"]
