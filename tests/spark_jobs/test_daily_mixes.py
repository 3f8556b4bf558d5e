"""daily_mixes on the small world's two weeks with real Spark and PostgreSQL: every active
listener's mixes, identical on a re-run, served whole to a reader during a rebuild, never a
disliked or taken-down song; the engagement of a day's mixes against a count by hand."""

import datetime as dt
import threading
import uuid

import pandas as pd
import pytest

from recsys import db, mix_store
from spark_jobs import daily_mixes
from spark_jobs.common import lake

pytestmark = pytest.mark.integration


def stored(settings, day):
    with db.connect(settings) as conn:
        return conn.execute(
            "select user_id, position, kind, title, cover_urls, song_ids"
            " from mixes.listener_mixes where mix_day = %s order by user_id, position",
            (day,),
        ).fetchall()


@pytest.fixture(scope="module")
def built(spark, settings, history, als_model):
    """Mix day ``history`` built once (the module's other builds re-run it)."""
    report = daily_mixes.run(spark, settings, history, "tests")
    return report, stored(settings, history)


def events_frame(spark, settings, first, last):
    return (
        lake.read_events(spark, settings.lake_uri)
        .where(f"date between '{first}' and '{last}'")
        .dropDuplicates(["event_id"])
        .toPandas()
    )


def test_every_active_listener_gets_mixes_of_unheard_and_familiar_songs(
    spark, settings, history, built
):
    report, rows = built
    assert report.served and report.model_version is not None
    events = events_frame(spark, settings, history - dt.timedelta(days=89), history)
    active = set(events.loc[events["date"] > history - dt.timedelta(days=30), "user_id"])
    assert {r[0] for r in rows} == active
    assert report.listeners == len(active) and report.mixes == len(rows)
    heard = events[events["action"].isin(["listen", "skip", "complete"])]
    heard_by = heard.groupby("user_id")["track_id"].agg(set)
    for user_id, position, kind, title, cover, songs in rows:
        assert len(songs) == settings.mixes_size
        assert len(set(songs)) == len(songs), "a song twice in a mix"
        assert len(cover) <= 4
        if kind == "discovery":
            assert title.startswith("Discovery: ")
            assert not set(songs) & heard_by.get(user_id, set()), "discovery repeats a song"
        else:
            assert title.startswith(f"Daily Mix {position}: ")
            assert set(songs) & heard_by[user_id], "a daily mix without a familiar song"
    per_listener = pd.Series([r[0] for r in rows]).value_counts()
    assert per_listener.max() <= settings.mixes_per_listener
    assert {r[2] for r in rows} == {"daily", "discovery"}


def test_a_rerun_gives_identical_rows(spark, settings, history, built):
    _, first = built
    daily_mixes.run(spark, settings, history, "tests-again")
    assert stored(settings, history) == first


def test_a_reader_during_a_rebuild_sees_one_whole_day(spark, settings, history, built):
    _, rows = built
    day = history
    whole = {(day, len(rows), sum(len(r[5]) for r in rows))}
    seen = set()
    stop = threading.Event()
    read_sql = (
        "select d.mix_day, count(*), sum(cardinality(m.song_ids)) from mixes.active_day as d"
        " join mixes.listener_mixes as m using (mix_day) group by d.mix_day"
    )

    def read():
        with db.connect(settings, autocommit=True) as conn:
            while not stop.is_set():
                seen.add(conn.execute(read_sql).fetchone())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        daily_mixes.run(spark, settings, day, "tests-rerun")  # the served day replaced
        next_day = daily_mixes.run(spark, settings, day + dt.timedelta(days=1), "tests-next")
    finally:
        stop.set()
        reader.join()
    assert next_day.served
    whole.add((day + dt.timedelta(days=1), next_day.mixes, next_day.songs))
    assert seen, "the reader read nothing"
    assert seen <= whole, f"a reader saw a partial day: {seen - whole}"
    with db.connect(settings) as conn:
        # a backfill of the older day does not move listeners back
        assert not mix_store.write_day(conn, day, next_day.model_version, [], 14)
        assert mix_store.active_day(conn) == day + dt.timedelta(days=1)
    daily_mixes.run(spark, settings, day, "tests-restore")
    assert stored(settings, day) == rows


def test_a_mix_never_holds_a_disliked_or_taken_down_song(spark, settings, history, built):
    with db.connect(settings) as conn:
        day = mix_store.active_day(conn)
    rows = stored(settings, day)
    user_id, _, _, _, _, songs = rows[0]
    disliked, taken_down = songs[0], songs[1]
    end = dt.datetime.combine(min(day, history), dt.time(12), dt.UTC)
    with db.connect(settings, autocommit=True) as conn:
        previous = conn.execute(
            "select feedback, at, event_id from catalog.song_feedback"
            " where user_id = %s and song_id = %s",
            (user_id, disliked),
        ).fetchone()
        conn.execute(
            "insert into catalog.song_feedback (user_id, song_id, feedback, at, event_id)"
            " values (%s, %s, 'dislike', %s, %s) on conflict (user_id, song_id) do update"
            " set feedback = 'dislike', at = excluded.at, event_id = excluded.event_id",
            (user_id, disliked, end, uuid.uuid4()),
        )
        conn.execute("update catalog.songs set taken_down_at = now() where id = %s", (taken_down,))
    try:
        # served at once, before any rebuild: filtered at read
        with db.connect(settings) as conn:
            _, served = mix_store.active_mixes(conn, user_id)
        served_songs = {s["id"] for mix in served for s in mix["songs"]}
        assert served_songs and not {disliked, taken_down} & served_songs
        daily_mixes.run(spark, settings, day, "tests-dislike")
        rebuilt = stored(settings, day)
        mine = {s for r in rebuilt if r[0] == user_id for s in r[5]}
        assert mine and disliked not in mine
        assert not any(taken_down in r[5] for r in rebuilt)
    finally:
        with db.connect(settings, autocommit=True) as conn:
            conn.execute(
                "update catalog.songs set taken_down_at = null where id = %s", (taken_down,)
            )
            if previous is None:
                conn.execute(
                    "delete from catalog.song_feedback where user_id = %s and song_id = %s",
                    (user_id, disliked),
                )
            else:
                conn.execute(
                    "update catalog.song_feedback set feedback = %s, at = %s, event_id = %s"
                    " where user_id = %s and song_id = %s",
                    (*previous, user_id, disliked),
                )


def test_engagement_of_a_day_s_mixes_is_the_next_day_s_plays_of_their_songs(
    spark, settings, history, built
):
    """Mixes of the day before ``history`` (built here) against the listeners' events of
    ``history``, counted by hand."""
    before = history - dt.timedelta(days=1)
    daily_mixes.run(spark, settings, before, "tests-before")
    daily_mixes.run(spark, settings, history, "tests-engagement")
    mixes = stored(settings, before)
    events = events_frame(spark, settings, history, history)
    playback = events[events["action"].isin(["listen", "skip", "complete"])]
    heard = playback["duration"] >= settings.play_min_seconds
    is_play = ((playback["action"] == "listen") & heard) | (
        (playback["action"] == "complete") & (playback["playback_id"].isna() | ~heard)
    )
    plays = playback[is_play].groupby(["user_id", "track_id"]).size().to_dict()
    skips = playback[playback["action"] == "skip"].groupby(["user_id", "track_id"]).size()
    skips = skips.to_dict()
    want = {}
    for user_id, position, kind, _, _, songs in mixes:
        p = [plays.get((user_id, s), 0) for s in songs]
        want[(user_id, position)] = (kind, len(songs), sum(x > 0 for x in p), sum(p),
                                     sum(skips.get((user_id, s), 0) for s in songs))  # fmt: skip
    with db.connect(settings) as conn:
        got = {
            (r[0], r[1]): r[2:]
            for r in conn.execute(
                "select user_id, position, kind, songs, songs_played, plays, skips"
                " from analytics.mix_engagement where mix_day = %s",
                (before,),
            ).fetchall()
        }
        by_kind = conn.execute(
            "select kind, mixes, songs_played, plays, skips from analytics.mix_engagement_daily"
            " where mix_day = %s order by kind",
            (before,),
        ).fetchall()
        built = conn.execute(
            "select mixes, daily_mixes + discovery_mixes from analytics.mixes_built"
            " where mix_day = %s",
            (before,),
        ).fetchone()
    assert got == want
    totals = {}
    for kind, _, played, p, skipped in want.values():
        t = totals.setdefault(kind, [kind, 0, 0, 0, 0])
        t[1], t[2], t[3], t[4] = t[1] + 1, t[2] + played, t[3] + p, t[4] + skipped
    assert by_kind == [tuple(totals[k]) for k in sorted(totals)]
    assert built == (len(mixes), len(mixes))
    assert sum(v[3] for v in want.values()) > 0, "nobody played a mix song: nothing tested"
