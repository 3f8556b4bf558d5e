"""GET /api/v1/users/<user_id>/mixes over the real PostgreSQL: the served day's mixes in
order with their songs, a newer day served whole once written, songs taken down or
disliked since the build left out at read; a listener's token reads their own mixes only."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from flask.testing import FlaskClient

from recsys import db, mix_store
from tests.auth_helpers import listener_headers, service_headers

pytestmark = pytest.mark.integration

DAY = dt.date(2031, 1, 10)  # far from the test history's days, removed afterwards


@pytest.fixture(scope="module")
def mixes(postgres, world):
    """Two listeners' mixes of DAY, served; afterwards the days written here go and the
    served day is what it was."""
    users = [u["id"] for u in world.users[:3]]
    songs = [s["id"] for s in world.songs[:90]]
    written = {
        users[0]: [
            (users[0], 1, "daily", "Daily Mix 1: rock", ["https://img.example/a.jpg"], songs[:30]),
            (users[0], 2, "discovery", "Discovery: jazz", [], songs[30:60]),
        ],
        users[1]: [(users[1], 1, "daily", "Daily Mix 1: folk", [], songs[60:90])],
    }
    with db.connect(postgres, autocommit=True) as conn:
        before = mix_store.active_day(conn)
        mix_store.write_day(conn, DAY, 1, [m for ms in written.values() for m in ms], 10_000)
    yield users, written
    with db.connect(postgres) as conn, conn.transaction():
        conn.execute("delete from mixes.active_day")
        conn.execute("delete from mixes.runs where mix_day >= %s", (DAY,))
        if before is not None:
            conn.execute("insert into mixes.active_day (mix_day) values (%s)", (before,))


def get(client, user, **kwargs):
    return client.get(f"/api/v1/users/{user}/mixes", **kwargs)


def test_a_listener_gets_the_served_day_s_mixes_in_order(client, mixes):
    users, written = mixes
    answer = get(client, users[0])
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["user_id"] == users[0] and body["mix_day"] == DAY.isoformat()
    got = [(m["position"], m["kind"], m["title"], m["cover_urls"], [s["id"] for s in m["songs"]])
           for m in body["items"]]  # fmt: skip
    assert got == [(m[1], m[2], m[3], [], m[5]) for m in written[users[0]]]  # no image: no cover
    song = body["items"][0]["songs"][0]
    assert {"id", "title", "artist", "genre", "duration_s", "image_url", "audio_url"} <= set(song)


def test_a_listener_without_mixes_gets_none_and_an_unknown_one_404(client, mixes):
    users, _ = mixes
    assert get(client, users[2]).json == {"user_id": users[2], "mix_day": None, "items": []}
    answer = get(client, "nobody-like-this")
    assert answer.status_code == 404
    assert answer.json["errors"][0]["field"] == "user_id"


def test_songs_taken_down_or_disliked_since_are_left_out(client, mixes, postgres):
    users, written = mixes
    songs = written[users[0]][0][5]
    gone, disliked = songs[0], songs[1]
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute("update catalog.songs set taken_down_at = now() where id = %s", (gone,))
        conn.execute(
            "insert into catalog.song_feedback (user_id, song_id, feedback, at, event_id)"
            " values (%s, %s, 'dislike', now(), %s)",
            (users[0], disliked, uuid.uuid4()),
        )
    try:
        served = [s["id"] for s in get(client, users[0]).json["items"][0]["songs"]]
        assert served == songs[2:]
        other = [s["id"] for s in get(client, users[1]).json["items"][0]["songs"]]
        assert gone not in other
    finally:
        with db.connect(postgres, autocommit=True) as conn:
            conn.execute("update catalog.songs set taken_down_at = null where id = %s", (gone,))
            conn.execute(
                "delete from catalog.song_feedback where user_id = %s and song_id = %s",
                (users[0], disliked),
            )


def test_a_newer_day_is_served_once_written_and_an_older_one_never_comes_back(
    client, mixes, postgres
):
    users, written = mixes
    newer = DAY + dt.timedelta(days=1)
    fresh = [(users[0], 1, "discovery", "Discovery: pop", [], written[users[1]][0][5])]
    with db.connect(postgres, autocommit=True) as conn:
        assert mix_store.write_day(conn, newer, 1, fresh, 10_000)
        assert not mix_store.write_day(conn, DAY, 1, [m for ms in written.values() for m in ms],
                                       10_000)  # fmt: skip
    body = get(client, users[0]).json
    assert body["mix_day"] == newer.isoformat()
    assert [m["title"] for m in body["items"]] == ["Discovery: pop"]
    assert get(client, users[1]).json["items"] == []


def test_a_listener_s_token_reads_their_own_mixes_only(client, mixes, settings):
    users, _ = mixes
    app = client.application
    bare = FlaskClient(app)
    assert get(bare, users[0], headers=listener_headers(settings, users[0])).status_code == 200
    other = get(bare, users[0], headers=listener_headers(settings, users[1]))
    assert other.status_code == 403
    assert get(bare, users[0]).status_code == 401
    reader = service_headers(settings, "recs:read:any")
    assert get(bare, users[0], headers=reader).status_code == 200
    assert (
        get(bare, users[0], headers=service_headers(settings, "users:read:any")).status_code == 403
    )
