"""Playlists through the API against the real PostgreSQL and Kafka: every bad input of
issue 21 answered with a 4xx naming the field and nothing applied, who may read and change
which playlist, concurrent adds, the 10,000-song limit in the API and in the database, and
the add_to_playlist events reaching the log."""

from __future__ import annotations

import dataclasses
import threading
import time

import psycopg
import pytest
from flask.testing import FlaskClient

from recsys import db
from tests.auth_helpers import listener_headers, service_headers
from tests.kafka_helpers import end_offsets, records_since
from webapp import create_app
from webapp.services.playlists import MAX_SONGS

pytestmark = pytest.mark.integration

API = "/api/v1"


@pytest.fixture
def songs(world):
    """The world's song ids."""
    return [s["id"] for s in world.songs]


@pytest.fixture
def owner(world, fresh_listener):
    """A listener with no playlist yet (theirs are deleted afterwards)."""
    return fresh_listener(world.users[7]["id"])


@pytest.fixture
def other(world, fresh_listener):
    return fresh_listener(world.users[8]["id"])


def create(client, user, name="Road trip", **fields):
    response = client.post(f"{API}/users/{user}/playlists", json={"name": name, **fields})
    assert response.status_code == 201, response.json
    return response.json


def add(client, playlist, song_ids, position=None, headers=None):
    body = {"song_ids": song_ids} | ({} if position is None else {"position": position})
    return client.post(f"{API}/playlists/{playlist}/songs", json=body, headers=headers)


def order(client, playlist):
    body = client.get(f"{API}/playlists/{playlist}?limit=100").json
    return [s["song_id"] for s in body["songs"]["items"]]


def fields(response):
    return {e["field"]: e["reason"] for e in response.json.get("errors", [])}


def test_a_playlist_is_created_filled_reordered_and_deleted(client, owner, songs):
    created = create(client, owner, description="for the drive", public=True)
    assert created["name"] == "Road trip" and created["song_count"] == 0
    pid = created["id"]

    added = add(client, pid, songs[:3])
    assert added.status_code == 201, added.json
    assert [(a["song_id"], a["position"]) for a in added.json["added"]] == [
        (songs[0], 1), (songs[1], 2), (songs[2], 3),
    ]  # fmt: skip
    assert add(client, pid, [songs[3], songs[4]], position=2).status_code == 201
    assert order(client, pid) == [songs[0], songs[3], songs[4], songs[1], songs[2]]

    page = client.get(f"{API}/playlists/{pid}?limit=2&offset=1").json
    assert page["song_count"] == 5 and page["songs"]["total"] == 5
    assert [(s["position"], s["song_id"]) for s in page["songs"]["items"]] == [
        (2, songs[3]), (3, songs[4]),
    ]  # fmt: skip

    moved = client.put(f"{API}/playlists/{pid}/order", json={"from": 5, "to": 1})
    assert moved.status_code == 200, moved.json
    assert order(client, pid) == [songs[2], songs[0], songs[3], songs[4], songs[1]]
    whole = [songs[1], songs[4], songs[3], songs[0], songs[2]]
    assert client.put(f"{API}/playlists/{pid}/order", json={"song_ids": whole}).status_code == 200
    assert order(client, pid) == whole

    assert client.delete(f"{API}/playlists/{pid}/songs/{songs[3]}").status_code == 204
    assert order(client, pid) == [songs[1], songs[4], songs[0], songs[2]]
    positions = [s["position"] for s in client.get(f"{API}/playlists/{pid}").json["songs"]["items"]]
    assert positions == [1, 2, 3, 4]

    renamed = client.patch(f"{API}/playlists/{pid}", json={"name": "Night drive", "public": False})
    assert renamed.status_code == 200
    assert (renamed.json["name"], renamed.json["public"]) == ("Night drive", False)
    assert renamed.json["description"] == "for the drive"
    cleared = client.patch(f"{API}/playlists/{pid}", json={"description": None})
    assert cleared.json["description"] is None

    listed = client.get(f"{API}/users/{owner}/playlists").json
    assert [p["id"] for p in listed["items"]] == [pid] and listed["total"] == 1

    assert client.delete(f"{API}/playlists/{pid}").status_code == 204
    assert client.get(f"{API}/playlists/{pid}").status_code == 404


def test_names_of_10_kb_are_refused_and_markup_comes_back_verbatim(client, owner):
    long = client.post(f"{API}/users/{owner}/playlists", json={"name": "x" * 10_240})
    assert long.status_code == 422
    assert fields(long) == {"name": "must be at most 200 characters"}
    for blank in ("", "   "):
        response = client.post(f"{API}/users/{owner}/playlists", json={"name": blank})
        assert response.status_code == 422 and "name" in fields(response)
    assert "name" in fields(client.post(f"{API}/users/{owner}/playlists", json={}))

    markup = '<script>alert("x")</script> & <b>bold</b>'
    created = create(client, owner, name=markup, description="<img src=x onerror=alert(1)>")
    read = client.get(f"{API}/playlists/{created['id']}")
    assert read.json["name"] == markup
    assert read.json["description"] == "<img src=x onerror=alert(1)>"
    assert read.headers["Content-Type"].startswith("application/json")

    renamed = client.patch(f"{API}/playlists/{created['id']}", json={"name": "y" * 201})
    assert renamed.status_code == 422 and "name" in fields(renamed)
    assert client.get(f"{API}/playlists/{created['id']}").json["name"] == markup
    nothing = client.patch(f"{API}/playlists/{created['id']}", json={})
    assert nothing.status_code == 422 and "body" in fields(nothing)
    null_name = client.patch(f"{API}/playlists/{created['id']}", json={"name": None})
    assert null_name.status_code == 422 and "name" in fields(null_name)


def test_unknown_listeners_and_playlists_are_404(client, songs):
    response = client.post(f"{API}/users/nobody-at-all/playlists", json={"name": "x"})
    assert response.status_code == 404 and fields(response) == {"user_id": "unknown user"}
    assert client.get(f"{API}/users/nobody-at-all/playlists").status_code == 404
    for pid in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        for method, path, body in (
            ("get", "", None),
            ("patch", "", {"name": "x"}),
            ("delete", "", None),
            ("post", "/songs", {"song_ids": [songs[0]]}),
            ("delete", f"/songs/{songs[0]}", None),
            ("put", "/order", {"from": 1, "to": 1}),
            ("get", "/suggestions", None),
        ):
            response = getattr(client, method)(f"{API}/playlists/{pid}{path}", json=body)
            assert response.status_code == 404, (method, path, response.json)
            assert fields(response) == {"playlist_id": "unknown playlist"}


def test_a_batch_add_is_all_or_nothing_and_names_each_bad_song(client, owner, songs, postgres):
    pid = create(client, owner)["id"]
    assert add(client, pid, [songs[0]]).status_code == 201
    down = songs[20]
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute("update catalog.songs set taken_down_at = now() where id = %s", (down,))
    try:
        response = add(client, pid, [songs[1], "no-such-song", down, songs[0], songs[1], songs[2]])
    finally:
        with db.connect(postgres, autocommit=True) as conn:
            conn.execute("update catalog.songs set taken_down_at = null where id = %s", (down,))
    assert response.status_code == 422
    assert response.json["error"] == "invalid_songs"
    assert fields(response) == {
        "song_ids[1]": "unknown song",
        "song_ids[2]": "taken down: it cannot be added",
        "song_ids[3]": "already in the playlist, at position 1",
        "song_ids[4]": "repeats song_ids[0]",
    }
    assert order(client, pid) == [songs[0]]  # nothing of the batch was added

    bad_ids = add(client, pid, [songs[1], 5, "", None])
    assert bad_ids.status_code == 422
    assert set(fields(bad_ids)) == {"song_ids[1]", "song_ids[2]", "song_ids[3]"}
    assert add(client, pid, []).status_code == 422
    beyond = add(client, pid, [songs[1]], position=3)
    assert beyond.status_code == 422
    assert fields(beyond) == {"position": "must be from 1 to 2 (the playlist holds 1 songs)"}
    assert add(client, pid, [songs[1]], position=0).status_code == 422
    assert order(client, pid) == [songs[0]]


def test_reorders_naming_positions_or_songs_that_do_not_exist_change_nothing(client, owner, songs):
    pid = create(client, owner)["id"]
    add(client, pid, songs[:4])
    put = lambda body: client.put(f"{API}/playlists/{pid}/order", json=body)  # noqa: E731

    beyond = put({"from": 5, "to": 1})
    assert beyond.status_code == 422
    assert fields(beyond) == {"from": "no position 5: the playlist holds 4 songs (1 to 4)"}
    both = put({"from": 9, "to": 7})
    assert set(fields(both)) == {"from", "to"}
    assert "from" in fields(put({"from": 0, "to": 1}))
    assert "body" in fields(put({"from": 1}))
    assert "body" in fields(put({}))
    assert "body" in fields(put({"song_ids": songs[:4], "from": 1, "to": 2}))

    wrong = put({"song_ids": [songs[3], songs[3], "stranger", songs[0]]})
    assert wrong.status_code == 422
    reasons = fields(wrong)
    assert reasons["song_ids[1]"] == "repeats song_ids[0]"
    assert reasons["song_ids[2]"] == "not in the playlist"
    assert reasons["song_ids"].startswith("misses 2 of the playlist's 4 songs")
    assert order(client, pid) == songs[:4]


def test_someone_elses_private_playlist_is_404_and_their_public_one_403_to_change(
    app, client, settings, owner, other, songs
):
    private = create(client, owner, name="mine", public=False)["id"]
    public = create(client, owner, name="shared", public=True)["id"]
    add(client, public, songs[:2])
    add(client, private, songs[:2])
    theirs = listener_headers(settings, other)
    mine = listener_headers(settings, owner)
    anonymous = FlaskClient(app)

    # reads: the private one does not exist for anyone else
    assert client.get(f"{API}/playlists/{private}", headers=theirs).status_code == 404
    assert anonymous.get(f"{API}/playlists/{private}").status_code == 404
    assert anonymous.get(f"{API}/playlists/{private}/suggestions").status_code == 404
    assert anonymous.get(f"{API}/playlists/{public}").status_code == 200
    assert client.get(f"{API}/playlists/{public}", headers=theirs).status_code == 200
    assert client.get(f"{API}/playlists/{private}", headers=mine).status_code == 200
    listed = lambda c, h=None: [  # noqa: E731
        p["id"] for p in c.get(f"{API}/users/{owner}/playlists", headers=h).json["items"]
    ]
    assert listed(anonymous) == [public]
    assert listed(client, theirs) == [public]
    assert listed(client, mine) == [public, private]
    assert listed(client, service_headers(settings, "playlists:read:any")) == [public, private]
    bad = {"Authorization": "Bearer not.a.token"}
    assert client.get(f"{API}/users/{owner}/playlists", headers=bad).status_code == 401

    # writes: 404 for the private one, 403 for the public one, nothing changed
    for pid, status in ((private, 404), (public, 403)):
        for method, path, body in (
            ("patch", "", {"name": "taken over"}),
            ("delete", "", None),
            ("post", "/songs", {"song_ids": [songs[5]]}),
            ("delete", f"/songs/{songs[0]}", None),
            ("put", "/order", {"from": 1, "to": 2}),
        ):
            url = f"{API}/playlists/{pid}{path}"
            response = getattr(client, method)(url, json=body, headers=theirs)
            assert response.status_code == status, (pid, method, path, response.json)
            assert getattr(anonymous, method)(url, json=body).status_code == 401
        assert order(client, pid) == songs[:2]
    read_only = service_headers(settings, "playlists:read:any")
    refused = client.patch(f"{API}/playlists/{public}", json={"name": "x"}, headers=read_only)
    assert refused.status_code == 403
    assert client.get(f"{API}/playlists/{public}").json["name"] == "shared"

    # creating for someone else: 403; for oneself: fine
    created = client.post(f"{API}/users/{owner}/playlists", json={"name": "x"}, headers=theirs)
    assert created.status_code == 403
    own = client.post(f"{API}/users/{other}/playlists", json={"name": "x"}, headers=theirs)
    assert own.status_code == 201
    assert anonymous.post(f"{API}/users/{other}/playlists", json={"name": "x"}).status_code == 401

    # the owner edits their own
    assert add(client, private, [songs[9]], headers=mine).status_code == 201
    shared = client.patch(f"{API}/playlists/{private}", json={"public": True}, headers=mine)
    assert shared.status_code == 200
    assert client.get(f"{API}/playlists/{private}", headers=theirs).status_code == 200


def test_two_adds_at_once_take_turns(app, owner, songs):
    client = app.test_client()
    pid = create(client, owner)["id"]
    barrier = threading.Barrier(4)
    answers = {}

    def send(name, batch):
        barrier.wait()
        answers[name] = add(app.test_client(), pid, batch)

    batches = {"a": songs[0:10], "b": songs[10:20], "c": songs[20:30], "same": songs[5:6]}
    threads = [threading.Thread(target=send, args=item) for item in batches.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    statuses = {name: r.status_code for name, r in answers.items()}
    ok = [name for name, status in statuses.items() if status == 201]
    # the one-song batch repeats a song of batch a: whichever ran second was refused whole
    assert statuses["b"] == statuses["c"] == 201
    assert sorted([statuses["a"], statuses["same"]]) == [201, 422]
    body = client.get(f"{API}/playlists/{pid}?limit=100").json
    items = body["songs"]["items"]
    assert [s["position"] for s in items] == list(range(1, len(items) + 1))
    expected = sum(len(batches[name]) for name in ok)
    assert len(items) == expected == len({s["song_id"] for s in items})
    for name in ok:  # each batch is contiguous, in its order
        got = [s["song_id"] for s in items if s["song_id"] in batches[name]]
        assert got == batches[name]


@pytest.fixture
def many_songs(postgres):
    """MAX_SONGS extra songs in the catalog, removed afterwards."""
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute(
            "insert into catalog.artists (id, name, genre) values ('pl-artist', 'Filler', 'pop')"
        )
        conn.execute(
            "insert into catalog.songs (id, title, artist_id, genre, duration_s)"
            " select 'pl-filler-' || n, 'Filler ' || n, 'pl-artist', 'pop', 120"
            " from generate_series(1, %s) as n",
            (MAX_SONGS,),
        )
    yield [f"pl-filler-{n}" for n in range(1, MAX_SONGS + 1)]
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute(
            "delete from catalog.playlists where id in (select playlist_id"
            " from catalog.playlist_songs where song_id like 'pl-filler-%%')"
        )
        conn.execute("delete from catalog.songs where artist_id = 'pl-artist'")
        conn.execute("delete from catalog.artists where id = 'pl-artist'")


def test_a_10001st_song_is_refused_by_the_api_and_the_database(
    client, owner, songs, many_songs, postgres
):
    pid = create(client, owner)["id"]
    # 9,998 filler songs written directly (no 9,998 events in the shared log), then the API
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute(
            "insert into catalog.playlist_songs (playlist_id, song_id, position)"
            " select %s, f.id, f.n from unnest(%s::text[]) with ordinality as f (id, n)",
            (pid, many_songs[:9_998]),
        )
    over = add(client, pid, songs[:3])
    assert over.status_code == 409 and over.json["error"] == "playlist_full"
    assert fields(over) == {
        "song_ids": "the playlist holds 9998 songs: at most 2 more can be added, not 3"
    }
    assert add(client, pid, songs[:2]).status_code == 201
    full = add(client, pid, [songs[2]], position=1)
    assert full.status_code == 409 and "song_ids" in fields(full)
    read = client.get(f"{API}/playlists/{pid}?limit=1&offset=9999").json
    assert read["song_count"] == MAX_SONGS
    assert read["songs"]["items"][0]["song_id"] == songs[1]

    with db.connect(postgres, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "insert into catalog.playlist_songs (playlist_id, song_id, position)"
                " values (%s, %s, %s)",
                (pid, songs[0], MAX_SONGS + 1),
            )


def test_the_database_refuses_repeated_positions_and_songs(client, owner, songs, postgres):
    pid = create(client, owner)["id"]
    add(client, pid, songs[:2])
    with db.connect(postgres, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "insert into catalog.playlist_songs (playlist_id, song_id, position)"
                " values (%s, %s, 1)",
                (pid, songs[5]),
            )
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "insert into catalog.playlist_songs (playlist_id, song_id, position)"
                " values (%s, %s, 3)",
                (pid, songs[0]),
            )
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("update catalog.playlists set name = '' where id = %s", (pid,))


def test_each_song_added_is_an_add_to_playlist_event_in_kafka(
    client, owner, songs, world, settings
):
    pid = create(client, owner)["id"]
    before = end_offsets(settings)
    added = add(client, pid, songs[40:43])
    assert added.status_code == 201
    events = added.json["events"]
    assert events["recorded"] is True and events["failed"] == 0
    assert len(events["event_ids"]) == 3

    found = [r for r in records_since(settings, before) if r["action"] == "add_to_playlist"]
    lengths = {s["id"]: s["duration_s"] for s in world.songs}
    assert sorted(r["event_id"] for r in found) == sorted(events["event_ids"])
    assert sorted(r["track_id"] for r in found) == sorted(songs[40:43])
    for record in found:
        assert record["user_id"] == record["_key"] == owner
        assert (record["duration"], record["total_duration"]) == (0, lengths[record["track_id"]])


def test_when_kafka_does_not_confirm_the_songs_stay_added_and_the_answer_says_so(
    world, redis_server, settings, owner, songs
):
    broken = dataclasses.replace(
        settings, kafka_bootstrap_servers="127.0.0.1:1", kafka_send_timeout_s=1.0
    )
    app = create_app(broken)
    try:
        client = app.test_client()
        pid = create(client, owner)["id"]
        added = add(client, pid, songs[50:52])
        assert added.status_code == 201
        assert added.json["events"] == {"recorded": False, "event_ids": [], "failed": 2}
        assert order(client, pid) == songs[50:52]
    finally:
        app.extensions["recsys"].close()


def test_clients_cannot_send_add_to_playlist_events_themselves(client, owner, songs):
    body = {"user_id": owner, "track_id": songs[0], "timestamp": int(time.time() * 1000),
            "action": "add_to_playlist", "duration": 0, "total_duration": 100}  # fmt: skip
    response = client.post(f"{API}/logs/event", json=body)
    assert response.status_code == 422
    assert "action" in fields(response)


def test_analysts_read_the_playlists_and_change_nothing(postgres):
    with db.connect(postgres, autocommit=True) as conn:
        rights = conn.execute(
            "select has_table_privilege('analyst', t, 'select'),"
            " has_table_privilege('analyst', t, 'insert'),"
            " has_table_privilege('analyst', t, 'update')"
            " from unnest(array['catalog.playlists', 'catalog.playlist_songs']) as t"
        ).fetchall()
    assert rights == [(True, False, False), (True, False, False)]


def test_the_analyst_views_count_playlists_and_the_songs_kept(
    client, owner, other, songs, postgres
):
    mine = create(client, owner, public=True)["id"]
    second = create(client, owner, name="Second")["id"]
    theirs = create(client, other)["id"]
    add(client, mine, songs[60:63])
    add(client, second, songs[60:61])
    add(client, theirs, [songs[61], songs[64]])
    with db.connect(postgres, autocommit=True) as conn:
        kept = {
            row[0]: row[1:]
            for row in conn.execute(
                "select song_id, playlists, public_playlists, listeners"
                " from analytics.playlisted_songs where song_id = any(%s)",
                (songs[60:65],),
            )
        }
        # the daily view against the tables, counted here in Python
        playlists = conn.execute(
            "select id, user_id, (created_at at time zone 'UTC')::date from catalog.playlists"
        ).fetchall()
        held = conn.execute(
            "select playlist_id, (added_at at time zone 'UTC')::date from catalog.playlist_songs"
        ).fetchall()
        daily = {
            row[0]: row[1:]
            for row in conn.execute(
                "select day, playlists_created, songs_added, playlists_added_to,"
                " listeners_adding from analytics.playlist_activity_daily"
            )
        }
    assert kept == {
        songs[60]: (2, 1, 1),
        songs[61]: (2, 1, 2),
        songs[62]: (1, 1, 1),
        songs[64]: (1, 0, 1),
    }
    owner_of = {pid: user for pid, user, _ in playlists}
    expected = {}
    for day in {d for *_, d in playlists} | {d for _, d in held}:
        added = [pid for pid, d in held if d == day]
        expected[day] = (
            sum(d == day for *_, d in playlists),
            len(added),
            len(set(added)),
            len({owner_of[pid] for pid in added}),
        )
    assert daily == expected
    assert sum(counts[1] for counts in daily.values()) >= 6  # this test's adds among them
