"""play_stats: the counting transforms play_counters and trending_resync share, on tiny frames."""

import datetime as dt

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_jobs.common import lake, play_stats
from tests.spark_jobs.conftest import DAY, T0, lake_row

pytestmark = pytest.mark.integration

LATE_DAY = dt.date(2026, 2, 27)


@pytest.fixture
def events(make_lake):
    return make_lake(
        [
            lake_row("e1", "u1", "s1", "listen", 30, 1),
            lake_row("e2", "u1", "s1", "complete", 200, 2),
            lake_row("e3", "u2", "s1", "listen", 29, 3),  # too short to be a play
            lake_row("e4", "u2", "s2", "skip", 4, 4),
            lake_row("e4", "u2", "s2", "skip", 4, 5),  # same event_id again
            lake_row("e5", "u3", "s1", "listen", 45, 6, day=LATE_DAY),  # late event
            lake_row("e6", "u3", "s2", "complete", 200, 15),  # next interval
        ]
    )


def test_interval_is_half_open_on_append_time_and_deduplicated(events):
    selected = play_stats.interval_events(events, T0, T0 + dt.timedelta(minutes=15))
    assert sorted(r.event_id for r in selected.collect()) == ["e1", "e2", "e3", "e4", "e5"]


def test_song_interval_stats_counts_by_event_day(spark, events):
    selected = play_stats.interval_events(events, T0, T0 + dt.timedelta(minutes=15))
    stats = play_stats.song_interval_stats(selected, play_min_seconds=30)
    expected = spark.createDataFrame(
        [
            (DAY, "s1", 3, 2, 1, 0, 1, 259, 3),
            (DAY, "s2", 1, 0, 0, 1, 0, 4, 1),
            (LATE_DAY, "s1", 1, 1, 0, 0, 1, 45, 1),
        ],
        "event_date date, song_id string, events long, plays long, completes long, "
        "skips long, listeners long, seconds_heard long, playbacks long",
    )
    assertDataFrameEqual(stats, expected)


def test_listener_pairs_are_users_with_a_play(spark, events):
    selected = play_stats.interval_events(events, T0, T0 + dt.timedelta(minutes=15))
    pairs = play_stats.daily_listener_pairs(selected, play_min_seconds=30)
    expected = spark.createDataFrame(
        [(DAY, "s1", "u1"), (LATE_DAY, "s1", "u3")],
        "event_date date, song_id string, user_id string",
    )
    assertDataFrameEqual(pairs, expected)


def test_a_players_playback_is_one_play_and_its_seconds_count_once(spark, make_lake):
    """The web player reports a playback with one playback_id: a listen when 30 s have been
    heard (the play), then its end. A song shorter than 30 s is a play at its complete.
    Each playback is one playback, whatever it reported on the way."""
    events = make_lake(
        [
            lake_row("p1", "u1", "s1", "listen", 30, 1, playback_id="pb-1"),
            lake_row("p2", "u1", "s1", "complete", 200, 4, playback_id="pb-1"),
            lake_row("p3", "u1", "s2", "listen", 20, 5, total=20, playback_id="pb-2"),
            lake_row("p4", "u1", "s2", "complete", 20, 5, total=20, playback_id="pb-2"),
            lake_row("p5", "u2", "s1", "listen", 30, 6, playback_id="pb-3"),
            lake_row("p6", "u2", "s1", "skip", 95, 7, playback_id="pb-3"),
        ]
    )
    stats = play_stats.song_interval_stats(events, play_min_seconds=30)
    expected = spark.createDataFrame(
        [(DAY, "s1", 4, 2, 1, 1, 2, 295, 2), (DAY, "s2", 2, 1, 1, 0, 1, 20, 1)],
        "event_date date, song_id string, events long, plays long, completes long, "
        "skips long, listeners long, seconds_heard long, playbacks long",
    )
    assertDataFrameEqual(stats, expected)


def lake_checksum(make_lake, rows):
    total = play_stats.lake_checksums(make_lake(rows)).first()
    return total.lake_rows, total.lake_checksum


def test_the_lake_checksum_counts_every_row_and_changes_with_any_of_them(make_lake):
    rows = [
        lake_row("e1", "u1", "s1", "listen", 30, 1),
        lake_row("e2", "u1", "s1", "complete", 200, 2),
        lake_row("e2", "u1", "s1", "complete", 200, 3),  # a copy, appended again
    ]
    rows_now, checksum = lake_checksum(make_lake, rows)
    assert rows_now == 3, "copies are rows of the lake too"
    hashes = make_lake(rows).select(F.xxhash64(*lake.CHECKSUM_FIELDS)).collect()
    assert checksum == sum(h[0] for h in hashes), "the exact sum of the rows' 64-bit hashes"
    assert lake_checksum(make_lake, rows[::-1]) == (3, checksum), "order does not matter"
    assert lake_checksum(make_lake, rows[:2])[1] != checksum, "a row removed"
    landed_late = lake_row("e3", "u2", "s2", "skip", 4, 4)
    assert lake_checksum(make_lake, [*rows, landed_late])[1] != checksum, "a row added"
    rewritten = lake_row("e1", "u1", "s1", "listen", 31, 1)
    assert lake_checksum(make_lake, [rewritten, *rows[1:]])[1] != checksum, "a row changed"
    assert lake_checksum(make_lake, []) == (0, 0)


def test_a_song_with_only_a_progress_report_heard_zero_seconds_not_null(spark, make_lake):
    """The listener closed the page mid-song (or the playback ended in the next interval):
    the interval holds only its 30-s report. seconds_heard is 0, as the table requires."""
    playback = "7d1f0a3c-2b4e-4c5d-9e6f-0a1b2c3d4e5f"
    lake_frame = make_lake([lake_row("p1", "u1", "s9", "listen", 30, 1, playback_id=playback)])
    selected = play_stats.interval_events(lake_frame, T0, T0 + dt.timedelta(minutes=15))
    (row,) = play_stats.song_interval_stats(selected, play_min_seconds=30).collect()
    assert (row.song_id, row.plays, row.seconds_heard, row.playbacks) == ("s9", 1, 0, 0)
