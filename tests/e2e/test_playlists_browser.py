"""Playlists, song radio and nightly mixes in the web player, in real Chromium against the
real stack (gunicorn in token mode with demo sign-in, Kafka, Redis, PostgreSQL).

- A listener creates a playlist (its name, markup included, shown as text), adds the playing
  song and another, is refused a duplicate with the API's message, reorders, adds a
  suggested song and removes it, plays the playlist (its events reach Kafka with surface
  playlist and the songs' positions), renames and deletes it after a confirm step.
- A radio from a song row, and from the playing song, fills Up Next from
  GET /recs/<user>/radio/<seed> (the page's own requests and answers), refills from it after
  each song, its songs' events carry surface radio with the answer's rec_id and position;
  picking another song ends the radio.
- Mixes written for the served day (recsys.mix_store.write_day, as the nightly job writes
  them) show with their titles, covers and counts, play as the queue with surface mix; a
  listener with none sees the empty state; the page fits a phone.

No model is trained here, which keeps the module short: a model of random vectors is served
instead (as tests/webapp/test_recs_api.py makes one), so suggestions and the radio come
from vectors; the player's trained-model paths are tests/e2e/test_player_browser.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import time

import pytest

from recsys import db, mix_store
from recsys import model_registry as registry
from tests.e2e.browser import NARROW, ids_of, open_page, screenshot
from tests.e2e.test_player_browser import open_home, player_state
from tests.kafka_helpers import end_offsets, records_since
from tests.webapp.known_model import write_known_model
from tests.webapp.test_recs_api import KNOWN_MODEL

pytestmark = pytest.mark.integration

MARKUP_NAME = '<b>Road</b> <img src=x onerror="window.__xss=1"> & "trips"'
MIX_DAY = dt.date(2031, 3, 14)  # far from the test history's days; removed afterwards


def wait_for(condition, timeout_s: float, what: str, poll_s: float = 0.3):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


def fetch_json(page, path: str):
    """A GET of the API from the page, with its sign-in cookie."""
    return page.evaluate(
        "async (path) => { const r = await fetch(path, {headers: {'X-Musicrec-Request': '1'}});"
        " return {status: r.status, body: await r.json().catch(() => null)}; }",
        f"/api/v1{path}",
    )


def events_of(settings, start, user_id: str, song_id: str | None = None) -> list[dict]:
    return [
        e
        for e in records_since(settings, start)
        if e["user_id"] == user_id and (song_id is None or e["track_id"] == song_id)
    ]


def wait_playing(page, song_id: str | None = None):
    song = f'[data-song-id="{song_id}"]' if song_id else ""
    page.wait_for_selector(f"[data-testid=player]{song}[data-state=playing]")
    return player_state(page)["songId"]


def playlist_row(page, playlist_id: str):
    return page.locator(f'[data-testid=playlist-item][data-playlist-id="{playlist_id}"]')


@pytest.fixture(scope="module")
def served_model(postgres, world):
    """A model of random ALS and lyrics vectors, served for this module; afterwards the
    model served before (or none) and none of these lyrics vectors."""
    with db.connect(postgres, autocommit=True) as conn:
        before = registry.active_version(conn)
        model = write_known_model(conn, world, **KNOWN_MODEL)
    yield model
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute("delete from model.lyrics_embeddings where lyrics_md5 = 'test'")
        if before is None:
            registry.deactivate(conn)
        else:
            registry.activate(conn, before, by="tests")


# --- playlists ---------------------------------------------------------------------------


def test_a_listener_keeps_a_playlist_and_plays_it(
    page, settings, webapp_server, world, kafka, served_model
):
    listener = world.users[21]
    open_home(page, settings, listener["id"])
    panel = page.get_by_test_id("playlists-panel")
    panel.wait_for()

    # create: the name is kept as typed and shown as text
    page.get_by_test_id("playlist-name-input").fill(MARKUP_NAME)
    page.get_by_test_id("playlist-public").check()
    with page.expect_response(lambda r: r.url.endswith("/playlists") and r.status == 201) as made:
        page.get_by_test_id("playlist-create").click()
    playlist = made.value.json()
    assert playlist["name"] == MARKUP_NAME and playlist["public"] is True
    row = playlist_row(page, playlist["id"])
    row.wait_for()
    assert row.get_by_test_id("playlist-name").text_content() == MARKUP_NAME
    assert row.locator("b, img").count() == 0
    assert row.get_by_test_id("playlist-meta").text_content() == "0 songs · public"
    assert page.evaluate("() => window.__xss") is None

    # add the playing song from the player, then the next one; a second add is refused
    first = page.get_by_test_id("rec-item").first
    first.get_by_test_id("play-song").click()
    song_a = wait_playing(page, first.get_attribute("data-song-id"))
    page.get_by_test_id("add-to-playlist-select").select_option(playlist["id"])
    status = page.get_by_test_id("add-to-playlist-status")
    page.get_by_test_id("add-to-playlist").click()
    page.wait_for_selector("[data-testid=add-to-playlist-status][data-outcome=added]")
    assert MARKUP_NAME in status.text_content()
    page.get_by_test_id("add-to-playlist").click()
    page.wait_for_selector("[data-testid=add-to-playlist-status][data-outcome=refused]")
    assert "already in the playlist, at position 1" in status.text_content()

    page.get_by_test_id("up-next-item").first.wait_for()
    page.get_by_test_id("skip").click()
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=player]').dataset.songId !== '{song_a}'"
    )
    song_b = wait_playing(page)
    page.get_by_test_id("add-to-playlist").click()
    page.wait_for_selector("[data-testid=add-to-playlist-status][data-outcome=added]")
    page.get_by_test_id("play-pause").click()  # paused: nothing more is heard meanwhile
    row.get_by_test_id("playlist-meta").filter(has_text="2 songs").wait_for()

    # open it: the songs in order; move the second up (PUT .../order)
    row.get_by_test_id("playlist-open").click()
    view = page.get_by_test_id("playlist-view")
    assert view.get_by_test_id("playlist-view-name").text_content() == MARKUP_NAME
    page.get_by_test_id("playlist-song").nth(1).wait_for()
    assert ids_of(page, "playlist-song") == [song_a, song_b]
    with page.expect_request(lambda r: r.url.endswith("/order") and r.method == "PUT") as moved:
        page.get_by_test_id("playlist-song").nth(1).get_by_test_id("playlist-song-up").click()
    assert moved.value.post_data_json == {"from": 2, "to": 1}
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=playlist-song]').dataset.songId === '{song_b}'"
    )
    stored = fetch_json(page, f"/playlists/{playlist['id']}")["body"]
    assert [s["song_id"] for s in stored["songs"]["items"]] == [song_b, song_a]

    # suggested songs: the endpoint's answer, each addable; one added, then removed
    suggested = fetch_json(page, f"/playlists/{playlist['id']}/suggestions?limit=5")["body"]
    expected = [s["song_id"] for s in suggested["items"]]
    assert expected, suggested  # a served model: the playlist's songs have neighbours
    wait_for(lambda: ids_of(page, "playlist-suggestion") == expected, 10, "the suggestions")
    suggestion = page.get_by_test_id("playlist-suggestion").first
    assert suggestion.locator(".reason").text_content() == suggested["items"][0]["reason"]["text"]
    suggestion.get_by_test_id("suggestion-add").click()
    page.get_by_test_id("playlist-song").nth(2).wait_for()
    assert ids_of(page, "playlist-song") == [song_b, song_a, expected[0]]
    wait_for(
        lambda: expected[0] not in ids_of(page, "playlist-suggestion"), 10, "fresh suggestions"
    )
    page.get_by_test_id("playlist-song").nth(2).get_by_test_id("playlist-song-remove").click()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=playlist-song]').length === 2"
    )
    assert ids_of(page, "playlist-song") == [song_b, song_a]
    screenshot(page, "playlists.png")

    # play it: its songs become the queue, their events say surface playlist and position
    start = end_offsets(settings)
    page.get_by_test_id("playlist-view-play").click()
    wait_playing(page, song_b)
    state = player_state(page)
    assert state["queueSource"] == "playlist"
    assert ids_of(page, "up-next-item") == [song_a]
    assert page.get_by_test_id("up-next").evaluate("n => n.childNodes.length") == 1
    assert MARKUP_NAME in page.get_by_test_id("up-next-mode").text_content()

    def played_both():
        events = events_of(settings, start, listener["id"])
        heard = {e["track_id"] for e in events if e["action"] in ("listen", "complete")}
        return events if {song_a, song_b} <= heard else None

    events = wait_for(played_both, 60, "both playlist songs' events in Kafka")
    for song_id, position in ((song_b, 1), (song_a, 2)):
        # (song_b's earlier playback, paused, ended as a skip from up_next when this began)
        mine = [e for e in events if e["track_id"] == song_id and e["action"] != "skip"]
        assert mine and all(e["surface"] == "playlist" for e in mine), mine
        assert {e["position"] for e in mine} == {position}, mine
        assert all(e.get("rec_id") is None for e in mine), mine

    # rename, then delete after the confirm step (Keep first keeps it)
    row.get_by_test_id("playlist-rename").click()
    row.get_by_test_id("playlist-rename-input").fill("Evening")
    row.get_by_test_id("playlist-rename-save").click()
    row.get_by_test_id("playlist-name").filter(has_text="Evening").wait_for()
    assert fetch_json(page, f"/playlists/{playlist['id']}")["body"]["name"] == "Evening"
    assert view.get_by_test_id("playlist-view-name").text_content() == "Evening"
    row.get_by_test_id("playlist-delete").click()
    row.get_by_test_id("playlist-delete-cancel").click()
    row.get_by_test_id("playlist-delete").wait_for()
    assert fetch_json(page, f"/playlists/{playlist['id']}")["status"] == 200
    row.get_by_test_id("playlist-delete").click()
    row.get_by_test_id("playlist-delete-confirm").click()
    row.wait_for(state="detached")
    assert view.is_hidden()
    assert fetch_json(page, f"/playlists/{playlist['id']}")["status"] == 404


def test_a_refused_name_shows_the_api_message_and_creates_nothing(page, settings, world):
    listener = world.users[22]
    open_home(page, settings, listener["id"])
    page.get_by_test_id("playlists-panel").wait_for()
    before = fetch_json(page, f"/users/{listener['id']}/playlists")["body"]["total"]
    page.get_by_test_id("playlist-name-input").fill("   ")
    page.get_by_test_id("playlist-create").click()
    error = page.get_by_test_id("playlists-error")
    error.filter(has_text="name").wait_for()
    assert "the playlist was not saved" in error.text_content()
    assert fetch_json(page, f"/users/{listener['id']}/playlists")["body"]["total"] == before


# --- song radio --------------------------------------------------------------------------


def radio_response(seed: str):
    return lambda r: f"/radio/{seed}?" in r.url and r.request.method == "GET"


def test_a_radio_refills_up_next_from_the_radio_endpoint(
    page, settings, webapp_server, world, kafka, served_model
):
    listener = world.users[23]
    open_home(page, settings, listener["id"])
    row = page.get_by_test_id("rec-item").first
    seed = row.get_attribute("data-song-id")

    with page.expect_response(radio_response(seed)) as radio:
        row.get_by_test_id("radio-song").click()
    answer = radio.value.json()
    assert radio.value.status == 200 and answer["items"], answer
    assert answer["mode"] != "trending" and answer["model_version"] == served_model.version
    wait_playing(page, seed)
    page.get_by_test_id("up-next-item").first.wait_for()
    expected = [i["song_id"] for i in answer["items"] if i["song_id"] != seed][:5]
    assert ids_of(page, "up-next-item") == expected
    state = player_state(page)
    assert state["queueSource"] == "radio" and state["radioSeed"] == seed
    assert "radio from" in page.get_by_test_id("up-next-mode").text_content()

    # after each song the radio is asked again, for the same seed
    start = end_offsets(settings)
    with page.expect_response(radio_response(seed)) as again:
        page.get_by_test_id("skip").click()
    wait_playing(page, expected[0])
    refill = again.value.json()
    shown = [i["song_id"] for i in refill["items"] if i["song_id"] not in (seed, expected[0])]
    wait_for(lambda: ids_of(page, "up-next-item") == shown[:5], 10, "Up Next from the refill")
    page.get_by_test_id("skip").click()  # the radio's first song, skipped: its events say so

    def radio_events():
        return events_of(settings, start, listener["id"], expected[0]) or None

    events = wait_for(radio_events, 30, "the radio song's events in Kafka")
    item = next(i for i in answer["items"] if i["song_id"] == expected[0])
    for e in events:
        assert e["surface"] == "radio", e
        assert e["rec_id"] == answer["rec_id"], e
        assert e["position"] == item["position"], e

    # the Radio button beside the playing song seeds a radio from it
    playing = wait_playing(page)
    with page.expect_response(radio_response(playing)) as from_player:
        page.get_by_test_id("radio").click()
    assert from_player.value.status == 200
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=player]').dataset.radioSeed === '{playing}'"
    )
    assert player_state(page)["songId"] == playing  # the seed goes on playing

    # picking another song ends the radio: Up Next comes from next songs again
    other = page.get_by_test_id("trending-item").or_(page.get_by_test_id("rec-item")).last
    other_id = other.get_attribute("data-song-id")
    with page.expect_response(
        lambda r: f"/recs/{listener['id']}/{other_id}?" in r.url
    ) as next_songs:
        other.get_by_test_id("play-song").click()
    assert next_songs.value.status == 200
    wait_playing(page, other_id)
    assert player_state(page)["queueSource"] == "next"
    assert player_state(page)["radioSeed"] == ""


# --- nightly mixes -----------------------------------------------------------------------


def cover_url(colour: str) -> str:
    """A data: image (the page's Content-Security-Policy allows data: images)."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4">'
        f'<rect width="4" height="4" fill="{colour}"/></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@pytest.fixture(scope="module")
def mixes(postgres, world):
    """Mixes of MIX_DAY for one listener, served: a daily mix with a cover of 3 songs'
    images and a discovery mix with none (the job writes the same rows). Afterwards the
    images, the day and the served day are what they were."""
    user = world.users[24]["id"]
    songs = [s["id"] for s in world.songs[200:260]]
    covered = {songs[0]: cover_url("#1f6f5c"), songs[1]: cover_url("#b07a1a"),
               songs[2]: cover_url("#b3261e")}  # fmt: skip
    written = [
        (user, 1, "daily", "Daily Mix 1: <i>indie</i>", list(covered.values()), songs[:30]),
        (user, 2, "discovery", "Discovery: jazz", [], songs[30:60]),
    ]
    with db.connect(postgres, autocommit=True) as conn:
        before = mix_store.active_day(conn)
        images = dict(
            conn.execute(
                "select id, image_url from catalog.songs where id = any(%s)", (list(covered),)
            ).fetchall()
        )
        with conn.transaction():
            for song_id, url in covered.items():
                conn.execute(
                    "update catalog.songs set image_url = %s where id = %s", (url, song_id)
                )
        mix_store.write_day(conn, MIX_DAY, 1, written, 10_000)
    yield user, written
    with db.connect(postgres) as conn, conn.transaction():
        for song_id, url in images.items():
            conn.execute("update catalog.songs set image_url = %s where id = %s", (url, song_id))
        conn.execute("delete from mixes.active_day")
        conn.execute("delete from mixes.runs where mix_day >= %s", (MIX_DAY,))
        if before is not None:
            conn.execute("insert into mixes.active_day (mix_day) values (%s)", (before,))


def test_mixes_show_with_covers_and_play_from_surface_mix(
    page, settings, webapp_server, kafka, world, mixes
):
    user, written = mixes
    open_home(page, settings, user)
    page.get_by_test_id("mix-item").nth(1).wait_for()
    assert page.get_by_test_id("mixes-empty").is_hidden()
    titles = page.get_by_test_id("mix-title").all_text_contents()
    assert titles == ["Daily Mix 1: <i>indie</i>", "Discovery: jazz"]
    assert page.get_by_test_id("mixes-list").locator("i").count() == 0
    assert page.get_by_test_id("mix-count").all_text_contents() == ["30 songs", "30 songs"]
    daily, discovery = page.get_by_test_id("mix-item").all()
    images = daily.get_by_test_id("mix-cover-image")
    assert images.count() == 3
    assert [images.nth(i).get_attribute("src") for i in range(3)] == written[0][4]
    alts = [images.nth(i).get_attribute("alt") for i in range(3)]
    assert alts == [f"Daily Mix 1: <i>indie</i>: cover {i} of 3" for i in (1, 2, 3)]
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=mix-cover-image]')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    assert discovery.get_by_test_id("mix-cover-image").count() == 0
    assert discovery.get_by_test_id("mix-cover").text_content() == "DJ"
    screenshot(page, "mixes.png")

    start = end_offsets(settings)
    discovery.get_by_test_id("mix-play").click()
    songs = written[1][5]
    wait_playing(page, songs[0])
    assert player_state(page)["queueSource"] == "mix"
    assert ids_of(page, "up-next-item") == songs[1:21]
    assert page.get_by_test_id("up-next-more").text_content() == "and 9 more"

    def listened():
        found = events_of(settings, start, user, songs[0])
        return found if any(e["action"] == "listen" for e in found) else None

    for e in wait_for(listened, 30, "the mix song's listen in Kafka"):
        assert e["surface"] == "mix" and e["position"] == 1, e


def test_a_listener_without_mixes_sees_when_they_come(page, settings, webapp_server, world, mixes):
    open_home(page, settings, world.users[25]["id"])
    empty = page.get_by_test_id("mixes-empty")
    empty.wait_for()
    assert "Mixes are built nightly" in empty.text_content()
    assert page.get_by_test_id("mix-item").count() == 0


def test_mixes_and_an_open_playlist_fit_a_phone(browser, settings, webapp_server, world, mixes):
    user, _ = mixes
    with open_page(browser, NARROW) as phone:
        open_home(phone, settings, user)
        phone.get_by_test_id("mix-item").first.wait_for()
        phone.get_by_test_id("playlist-name-input").fill("A rather long playlist name " * 4)
        phone.get_by_test_id("playlist-create").click()
        phone.get_by_test_id("playlist-item").first.get_by_test_id("playlist-open").click()
        phone.get_by_test_id("playlist-view").wait_for()
        phone.get_by_test_id("rec-item").first.get_by_test_id("play-song").click()
        wait_playing(phone)
        width = phone.evaluate("() => document.scrollingElement.scrollWidth")
        assert width <= NARROW["width"], f"horizontal scroll: content is {width}px wide"
        screenshot(phone, "playlists-phone.png")
