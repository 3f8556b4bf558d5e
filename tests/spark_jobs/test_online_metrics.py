"""online_metrics: attribution of events to the answers that caused them, per day, surface,
model version and experiment arm; against hand-made sequences and a brute-force count."""

import dataclasses
import datetime as dt
import random
import uuid

import pytest

from recsys import db
from recsys.lake import events_path, impressions_path
from spark_jobs import online_metrics
from spark_jobs.common import lake

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 3, 1)
WINDOWS = online_metrics.Windows(rec_id_ms=6 * 3_600_000, fallback_ms=30 * 60_000)
PLAY_MIN = 30


def at(hour, minute=0, day=DAY):
    moment = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(hours=hour, minutes=minute)
    return int(moment.timestamp() * 1000)


def rid(n):
    """A readable rec_id: the answer's number in a UUID."""
    return f"00000000-0000-4000-8000-{n:012d}"


def answer(n, user, surface, songs, served_at, version=3, experiment=None, arm=None):
    day = dt.datetime.fromtimestamp(served_at / 1000, dt.UTC).date()
    return (rid(n), user, surface, None, version, "session", experiment, arm, songs,
            list(range(1, len(songs) + 1)), served_at, 0, n, None, day)  # fmt: skip


def event(event_id, user, song, action, duration, ts, rec=None, surface=None, position=None,
          playback_id=None, total=200):  # fmt: skip
    day = dt.datetime.fromtimestamp(ts / 1000, dt.UTC).date()
    return (event_id, user, song, ts, action, duration, total, "simulation", playback_id,
            rec, surface, position, 0, 0, None, day)  # fmt: skip


def write(spark, root, answers, events):
    spark.createDataFrame(answers, lake.IMPRESSION_LAKE_SCHEMA).write.mode("overwrite").partitionBy(
        "date"
    ).parquet(impressions_path(str(root)))
    spark.createDataFrame(events, lake.LAKE_SCHEMA).write.mode("overwrite").partitionBy(
        "date"
    ).parquet(events_path(str(root)))


def metrics(spark, root, day=DAY):
    rows = online_metrics.day_metrics(spark, str(root), day, WINDOWS, PLAY_MIN)
    return {tuple(r[c] for c in online_metrics.GROUP): r for r in rows}


PB = "5d0c1f6e-8b7a-4c2e-9f10-aa0000000001"
ANSWERS = [
    answer(1, "u1", "home", ["s1", "s2", "s3"], at(10)),
    answer(2, "u1", "up_next", ["s4", "s5"], at(10, 10)),
    answer(3, "u2", "home", ["s1", "s6"], at(11), experiment="e1", arm="random"),
    answer(4, "u1", "home", ["s7"], at(0, 5, DAY + dt.timedelta(days=1))),  # the next day's
    answer(5, "u3", "home", ["s8"], at(23, 50), version=None),  # trending: no model
]
EVENTS = [
    # a player's playback from the home page: its 30-s listen, then its complete
    event("e1", "u1", "s1", "listen", 40, at(10, 1), rid(1), "home", 1, PB),
    event("e2", "u1", "s1", "complete", 200, at(10, 4), rid(1), "home", 1, PB),
    event("e2", "u1", "s1", "complete", 200, at(10, 4), rid(1), "home", 1, PB),  # a copy
    event("e3", "u1", "s4", "skip", 10, at(10, 12), rid(2), "up_next", 1),
    # no list named: the latest answer showing s5 to u1 in the 30 minutes before
    event("e4", "u1", "s5", "listen", 100, at(10, 20)),
    event("e5", "u1", "s2", "complete", 200, at(10, 5), surface="search"),  # not a rec
    event("e6", "u1", "s3", "complete", 200, at(10, 15), rid(2), "up_next", 3),  # r2 lacks s3
    event("e7", "u2", "s6", "dislike", 5, at(11, 1), rid(3), "home", 2),
    event("e8", "u2", "s1", "like", 50, at(11, 2), rid(3), "home", 1),
    event("e9", "u2", "s1", "listen", 35, at(12)),  # 60 minutes after: too late to guess
    event("e10", "u1", "s1", "complete", 200, at(17, 1), rid(1), "home", 1),  # > 6 h after
    # the day's last answer, played after midnight
    event("e11", "u3", "s8", "complete", 180, at(0, 10, DAY + dt.timedelta(days=1))),
    event("e12", "u1", "s7", "complete", 200, at(0, 6, DAY + dt.timedelta(days=1)), rid(4)),
    event("e13", "u2", "s1", "unlike", 50, at(11, 3), rid(3), "home", 1),  # no outcome
]


@pytest.fixture(scope="module")
def hand_made(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("online-lake")
    write(spark, root, ANSWERS, EVENTS)
    return root


def test_hand_made_sequences_are_attributed_by_the_documented_rule(spark, hand_made):
    got = metrics(spark, hand_made)
    assert set(got) == {
        ("home", 3, None, None),
        ("up_next", 3, None, None),
        ("home", 3, "e1", "random"),
        ("home", None, None, None),
    }, "the next day's answer is the next day's"
    home = got[("home", 3, None, None)]
    # e1 (the play) and e2 (its end, counted once); e5 came from search, e10 too late
    assert (home["impressions"], home["items_shown"], home["songs_shown"]) == (1, 3, 3)
    assert (home["attributed_events"], home["plays"], home["completes"]) == (2, 1, 1)
    assert home["seconds_listened"] == 200, "the playback's end carries its seconds"
    up_next = got[("up_next", 3, None, None)]
    # e3 named r2; e4 named no list and r2 showed s5 ten minutes before; e6: r2 showed no s3
    assert (up_next["attributed_events"], up_next["plays"], up_next["skips"]) == (2, 1, 1)
    assert up_next["completes"] == 0 and up_next["seconds_listened"] == 110
    arm = got[("home", 3, "e1", "random")]
    assert (arm["likes"], arm["dislikes"], arm["plays"], arm["attributed_events"]) == (1, 1, 0, 2)
    trending = got[("home", None, None, None)]
    assert (trending["plays"], trending["completes"], trending["seconds_listened"]) == (1, 1, 180)


def test_the_next_days_answers_are_counted_on_their_own_day(spark, hand_made):
    got = metrics(spark, hand_made, DAY + dt.timedelta(days=1))
    assert set(got) == {("home", 3, None, None)}
    assert got[("home", 3, None, None)]["completes"] == 1  # e12 only


# -- brute force ---------------------------------------------------------------------------


def brute_force(answers, events, day):
    """The attribution rule written out plainly, answer by answer and event by event."""
    start, end = at(0, 0, day), at(0, 0, day) + 86_400_000
    by_rec = {a[0]: a for a in answers}
    unique_events = {e[0]: e for e in events}
    attributed = {}
    for e in unique_events.values():
        event_id, user, song, ts, action, duration, *_ = e
        rec, surface = e[9], e[10]
        if action not in online_metrics.ATTRIBUTED_ACTIONS:
            continue
        if rec is not None:
            a = by_rec.get(rec)
            if (
                a
                and a[1] == user
                and song in a[8]
                and a[10] - online_metrics.CLOCK_SKEW_MS <= ts <= a[10] + WINDOWS.rec_id_ms
            ):
                attributed[event_id] = rec
        elif surface is None:
            showing = [
                a
                for a in answers
                if a[1] == user and song in a[8] and a[10] <= ts <= a[10] + WINDOWS.fallback_ms
            ]
            if showing:
                attributed[event_id] = max(showing, key=lambda a: (a[10], a[0]))[0]
    rows = {}
    for a in answers:
        if not start <= a[10] < end:
            continue
        key = (a[2], a[4], a[6], a[7])
        row = rows.setdefault(key, {"impressions": 0, "items_shown": 0, "songs": set()})
        row["impressions"] += 1
        row["items_shown"] += len(a[8])
        row["songs"].update(a[8])
        for m in online_metrics.MEASURES[3:]:
            row.setdefault(m, 0)
    for event_id, rec in attributed.items():
        a = by_rec[rec]
        if not start <= a[10] < end:
            continue
        row = rows[(a[2], a[4], a[6], a[7])]
        _, _, _, _, action, duration, *_ = unique_events[event_id]
        playback = unique_events[event_id][8]
        row["attributed_events"] += 1
        if (action == "listen" and duration >= PLAY_MIN) or (
            action == "complete" and (playback is None or duration < PLAY_MIN)
        ):
            row["plays"] += 1
        row["completes"] += action == "complete"
        row["skips"] += action == "skip"
        row["likes"] += action == "like"
        row["dislikes"] += action == "dislike"
        if action in ("skip", "complete") or (action == "listen" and playback is None):
            row["seconds_listened"] += duration
    for row in rows.values():
        row["songs_shown"] = len(row.pop("songs"))
    return rows


def random_world(seed):
    """Two days of random answers and of events about their songs (named, unnamed, from
    search, late, copied), for users u0-u5 and songs s0-s11."""
    rng = random.Random(seed)
    answers, events = [], []
    for n in range(60):
        served = at(0) + rng.randrange(-3_600_000, 2 * 86_400_000)
        songs = rng.sample([f"s{i}" for i in range(12)], rng.randint(1, 5))
        experiment = rng.choice([None, "e1"])
        answers.append(
            answer(
                n + 1,
                f"u{rng.randrange(6)}",
                rng.choice(["home", "up_next"]),
                songs,
                served,
                version=rng.choice([None, 3, 4]),
                experiment=experiment,
                arm=rng.choice(["control", "b"]) if experiment else None,
            )  # fmt: skip
        )
    for n in range(800):
        a = rng.choice(answers)
        user = a[1] if rng.random() < 0.9 else f"u{rng.randrange(6)}"
        song = rng.choice(a[8]) if rng.random() < 0.9 else f"s{rng.randrange(12)}"
        ts = a[10] + rng.randrange(-10 * 60_000, 8 * 3_600_000)
        action = rng.choice(["listen", "skip", "complete", "like", "dislike", "unlike"])
        how = rng.random()
        rec, surface = (
            (a[0], a[2]) if how < 0.5 else (None, "search") if how < 0.6 else (None, None)
        )
        playback = str(uuid.UUID(int=rng.getrandbits(128))) if rng.random() < 0.3 else None
        e = event(f"ev{n}", user, song, action, rng.randrange(0, 201), ts, rec, surface,
                  1 if rec else None, playback)  # fmt: skip
        events.append(e)
        if rng.random() < 0.1:
            events.append(e)  # a copy, as a replayed batch lands one
    return answers, events


@pytest.mark.parametrize("seed", [1, 2])
def test_a_random_day_matches_a_brute_force_count(spark, tmp_path, seed):
    answers, events = random_world(seed)
    write(spark, tmp_path, answers, events)
    for day in (DAY, DAY + dt.timedelta(days=1)):
        expected = brute_force(answers, events, day)
        got = metrics(spark, tmp_path, day)
        assert set(got) == set(expected)
        for key, row in expected.items():
            assert {m: got[key][m] for m in online_metrics.MEASURES} == row, key
        assert sum(r["attributed_events"] for r in expected.values()) > 40, "a real test"
        assert sum(r["plays"] for r in expected.values()) > 10


def test_a_rerun_replaces_the_day_with_identical_rows(spark, settings, postgres, hand_made):
    own = dataclasses.replace(postgres, lake_uri=str(hand_made))
    columns = ", ".join(("day", *online_metrics.GROUP, *online_metrics.MEASURES))

    def stored():
        with db.connect(own) as conn:
            return conn.execute(
                f"select {columns} from analytics.online_metrics where day = %s order by 2, 3",
                (DAY,),
            ).fetchall()

    with db.connect(own, autocommit=True) as conn:
        conn.execute("delete from analytics.online_metrics where day = %s", (DAY,))
    first = online_metrics.run(spark, own, DAY)
    after_first = stored()
    assert len(after_first) == len(first) == 4
    online_metrics.run(spark, own, DAY)
    assert stored() == after_first, "a re-run gives the same rows, not twice as many"
    with db.connect(own) as conn:
        rates = conn.execute(
            "select play_through_rate, skip_rate, seconds_per_impression"
            " from analytics.online_metrics_daily where day = %s and surface = 'up_next'",
            (DAY,),
        ).fetchone()
    assert [float(r) for r in rates] == [0.0, 1.0, 110.0]
