"""trending_resync on the real stack: the lake (via Kafka and the landing job), Spark and
PostgreSQL. The job's functions run in the test's Spark session; the DAG itself runs in
test_trending_dag.py."""

import datetime as dt
import time
import uuid
from collections import Counter, defaultdict

import pytest

from recsys import db
from recsys.events import is_play
from recsysctl import simulator
from spark_jobs import trending_resync
from spark_jobs.common import lake
from tests.pipeline_helpers import count_now, land, settle, warehouse_state

pytestmark = pytest.mark.integration

UTC = dt.UTC


def brute_force_ranking(rows, day, days, size, play_min, songs):
    first = day - dt.timedelta(days=days - 1)
    seen = set()
    plays, listeners = Counter(), defaultdict(set)
    for r in rows:
        if r.event_id in seen or not first <= r.date <= day:
            continue
        seen.add(r.event_id)
        if is_play(r.action, r.duration, play_min, r.playback_id) and r.track_id in songs:
            plays[r.track_id] += 1
            listeners[r.track_id].add(r.user_id)
    order = sorted(plays, key=lambda s: (-plays[s], -len(listeners[s]), s))[:size]
    return [(rank, s, plays[s], len(listeners[s])) for rank, s in enumerate(order, 1)], plays


def snapshot_rows(settings, day):
    with db.connect(settings) as conn:
        return conn.execute(
            "select rank, song_id, plays_7d, listeners_7d, previous_rank, rank_change"
            " from analytics.trending_history where snapshot_date = %s order by rank",
            (day,),
        ).fetchall()


def test_resync_equals_brute_force_over_the_lake(spark, settings, history, world):
    settle(spark, settings)  # the counters as the scheduled runs leave them: nothing to correct
    report = trending_resync.resync(spark, settings, history)
    rows = lake.read_events(spark, settings.lake_uri).collect()
    songs = {s["id"] for s in world.songs}
    expected, plays = brute_force_ranking(
        rows,
        history,
        settings.trending_window_days,
        settings.trending_snapshot_size,
        settings.play_min_seconds,
        songs,
    )
    assert expected, "the history should make something trend"
    got = snapshot_rows(settings, history)
    assert [(r[0], r[1], r[2], r[3]) for r in got] == expected
    yesterday, _ = brute_force_ranking(
        rows,
        history - dt.timedelta(days=1),
        settings.trending_window_days,
        settings.trending_snapshot_size,
        settings.play_min_seconds,
        songs,
    )
    previous = {song: rank for rank, song, _, _ in yesterday}
    for rank, song, _, _, previous_rank, change in got:
        assert previous_rank == previous.get(song)
        assert change == (previous[song] - rank if song in previous else None)
    with db.connect(settings) as conn:
        plays_7d = dict(conn.execute("select id, plays_7d from catalog.songs").fetchall())
    assert plays_7d == {s: plays.get(s, 0) for s in songs}
    assert (report.intervals_corrected, report.events_corrected) == (0, 0)


def test_rerun_and_out_of_order_backfill_are_identical(spark, settings, history):
    trending_resync.resync(spark, settings, history)
    first = warehouse_state(settings)
    older = history - dt.timedelta(days=3)
    trending_resync.resync(spark, settings, older)  # a backfill of an older day
    trending_resync.resync(spark, settings, history)
    again = warehouse_state(settings)
    assert again["plays_7d"] == first["plays_7d"], "an older day must not change plays_7d"
    assert [r for r in again["history"] if r[0] == history] == [
        r for r in first["history"] if r[0] == history
    ]
    older_rows = snapshot_rows(settings, older)
    trending_resync.resync(spark, settings, older)
    assert snapshot_rows(settings, older) == older_rows
    assert warehouse_state(settings) == again


def complete(world, song, day):
    """A listener's complete of ``song`` at noon on ``day``: one play."""
    return {
        "event_id": str(uuid.uuid4()),
        "user_id": world.users[0]["id"],
        "track_id": song["id"],
        "timestamp": int(dt.datetime.combine(day, dt.time(12), UTC).timestamp() * 1000),
        "action": "complete",
        "duration": song["duration_s"],
        "total_duration": song["duration_s"],
        "source": "real_user",
    }


def test_late_event_counts_in_its_own_day(spark, settings, history, world):
    trending_resync.resync(spark, settings, history)
    late_day = history - dt.timedelta(days=2)
    song = world.songs[-1]
    before_day = daily_plays(settings, late_day, song["id"])
    before_7d = song_plays_7d(settings, song["id"])
    sent_at = dt.datetime.now(UTC)
    simulator.send_history(settings, [complete(world, song, late_day)], progress=False)
    land(spark, settings)
    count_now(spark, settings, sent_at)
    assert daily_plays(settings, late_day, song["id"]) == before_day + 1
    report = trending_resync.resync(spark, settings, history)
    assert song_plays_7d(settings, song["id"]) == before_7d + 1
    assert report.intervals_corrected == 0


def skip_rates_row(settings, song_id):
    with db.connect(settings) as conn:
        return conn.execute(
            "select playbacks, completes, skips from analytics.song_skip_rates where song_id = %s",
            (song_id,),
        ).fetchone() or (0, 0, 0)


def test_a_player_playback_is_one_playback_in_the_skip_rates(spark, settings, history, world):
    """The player's 30-s listen and its complete share a playback_id: one playback, one
    complete, so a song always heard to the end has a completion rate of 1, not 0.5."""
    song = world.songs[-2]
    settle(spark, settings)  # no earlier test's events left to count with this one's
    before = skip_rates_row(settings, song["id"])
    sent_at = dt.datetime.now(UTC)
    at = int(dt.datetime.combine(history, dt.time(9), UTC).timestamp() * 1000)
    playback = str(uuid.uuid4())
    events = [
        {
            "event_id": str(uuid.uuid4()),
            "user_id": world.users[1]["id"],
            "track_id": song["id"],
            "timestamp": at + offset_ms,
            "action": action,
            "duration": heard,
            "total_duration": song["duration_s"],
            "source": "real_user",
            "playback_id": playback,
        }
        for action, heard, offset_ms in (
            ("listen", 30, 30_000),
            ("complete", song["duration_s"], song["duration_s"] * 1000),
        )
    ]
    simulator.send_history(settings, events, progress=False)
    land(spark, settings)
    count_now(spark, settings, sent_at)
    playbacks, completes, skips = skip_rates_row(settings, song["id"])
    assert (playbacks - before[0], completes - before[1], skips - before[2]) == (1, 1, 0)


def daily_plays(settings, day, song_id):
    with db.connect(settings) as conn:
        row = conn.execute(
            "select plays from analytics.song_daily_stats where event_date = %s and song_id = %s",
            (day, song_id),
        ).fetchone()
    return row[0] if row else 0


def song_plays_7d(settings, song_id):
    with db.connect(settings) as conn:
        return conn.execute(
            "select plays_7d from catalog.songs where id = %s", (song_id,)
        ).fetchone()[0]


def resync_runs_row(settings, day):
    """What the resync of ``day`` recorded: intervals re-checked and corrected, events and
    plays corrected."""
    with db.connect(settings) as conn:
        return conn.execute(
            "select intervals_rechecked, intervals_corrected, events_corrected,"
            " plays_corrected from analytics.resync_runs where snapshot_date = %s",
            (day,),
        ).fetchone()


def test_drift_is_detected_corrected_and_recorded(spark, settings, history):
    trending_resync.resync(spark, settings, history)
    clean = warehouse_state(settings)
    with db.connect(settings) as conn:
        interval, day, song = conn.execute(
            "select interval_start, event_date, song_id from analytics.song_interval_stats"
            " where event_date = %s order by plays desc limit 1",
            (history,),
        ).fetchone()
        conn.execute(
            "update analytics.song_interval_stats set plays = plays + 5, events ="
            " events + 5 where (interval_start, event_date, song_id) = (%s, %s, %s)",
            (interval, day, song),
        )
        conn.execute(
            "update analytics.song_daily_stats set plays = plays + 5"
            " where (event_date, song_id) = (%s, %s)",
            (day, song),
        )
        conn.execute(
            "update catalog.songs set plays_cumulative = plays_cumulative + 5 where id = %s",
            (song,),
        )
        other_song = conn.execute(
            "select song_id from analytics.song_daily_stats where event_date = %s"
            " and song_id <> %s limit 1",
            (history - dt.timedelta(days=1), song),
        ).fetchone()[0]
        conn.execute(
            "update analytics.song_daily_stats set skips = skips + 2 where"
            " event_date = %s and song_id = %s",
            (history - dt.timedelta(days=1), other_song),
        )
    assert warehouse_state(settings) != clean
    report = trending_resync.resync(spark, settings, history)
    assert (report.intervals_rechecked, report.intervals_corrected) == (1, 1)
    assert (report.events_corrected, report.plays_corrected) == (5, 5)
    assert report.daily_rows_corrected >= 1 and report.songs_corrected >= 1
    assert warehouse_state(settings) == clean
    assert resync_runs_row(settings, history) == (1, 1, 5, 5)
    assert trending_resync.resync(spark, settings, history).intervals_corrected == 0


def away_from_an_interval_boundary(seconds=90):
    """Wait, if need be, until the open 15-minute interval has ``seconds`` left, so what a
    test sends next is appended in the interval it has just counted."""
    now = dt.datetime.now(UTC)
    left = 900 - (now.minute % 15 * 60 + now.second)
    if left < seconds:
        time.sleep(left + 1)


def test_rows_landed_in_a_counted_interval_are_found_by_its_checksum(
    spark, settings, history, world
):
    """The streaming job can land a file after the interval it was appended in was counted:
    the interval's lake checksum no longer matches, so the resync counts it again."""
    settle(spark, settings)
    assert trending_resync.resync(spark, settings, history).intervals_rechecked == 0
    song = world.songs[-2]
    away_from_an_interval_boundary()
    sent_at = dt.datetime.now(UTC)
    counted = complete(world, song, history - dt.timedelta(days=1))
    simulator.send_history(settings, [counted], progress=False)
    land(spark, settings)
    count_now(spark, settings, sent_at)  # counts the open interval, with `counted` in it
    before = daily_plays(settings, history, song["id"]), song_plays_7d(settings, song["id"])

    simulator.send_history(settings, [complete(world, song, history)], progress=False)
    land(spark, settings)  # appended in the interval already counted
    report = trending_resync.resync(spark, settings, history)

    assert (report.intervals_rechecked, report.intervals_corrected) == (1, 1)
    assert (report.events_corrected, report.plays_corrected) == (1, 1)
    assert daily_plays(settings, history, song["id"]) == before[0] + 1
    assert song_plays_7d(settings, song["id"]) == before[1] + 2, "both new plays are in 7 days"
    assert resync_runs_row(settings, history) == (1, 1, 1, 1)
    again = trending_resync.resync(spark, settings, history)
    assert (again.intervals_rechecked, again.intervals_corrected) == (0, 0)


def test_a_full_check_counts_every_interval_again(spark, settings, history):
    """``--full-check`` compares every interval with the lake row by row, whatever its
    checksums say, and derives every song's plays_cumulative again; intervals counted
    before checksums were kept are checked in full once."""
    settle(spark, settings)
    trending_resync.resync(spark, settings, history)
    clean = warehouse_state(settings)
    with db.connect(settings) as conn:  # a total only a full check derives again
        conn.execute(
            "update catalog.songs set plays_cumulative = plays_cumulative + 3"
            " where id = (select min(song_id) from analytics.song_daily_stats)"
        )
    report = trending_resync.resync(spark, settings, history, full_check=True)
    assert report.intervals_checked > 0
    assert (report.intervals_rechecked, report.intervals_corrected) == (
        report.intervals_checked,
        0,
    )
    assert report.songs_corrected == 1
    assert warehouse_state(settings) == clean

    with db.connect(settings) as conn:
        conn.execute(
            "update analytics.counter_runs"
            " set lake_rows = null, lake_checksum = null, ledger_checksum = null"
        )
    first = trending_resync.resync(spark, settings, history)
    assert (first.intervals_rechecked, first.intervals_corrected) == (report.intervals_checked, 0)
    assert trending_resync.resync(spark, settings, history).intervals_rechecked == 0
    assert warehouse_state(settings) == clean
