"""ALS training on real Spark and PostgreSQL: the confidence weighting, learning a known
structure, the quality gate and the atomic model swap."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import threading
import uuid

import numpy as np
import pytest

from recsys import db
from recsys import model_registry as registry
from recsys.ranking_metrics import RankingMetrics, top_k
from spark_jobs import als_training
from spark_jobs.common import lake

pytestmark = pytest.mark.integration

END = dt.date(2026, 3, 11)  # window: Mar 1-10; holdout: Mar 9-10
TRAIN_DAYS = [dt.date(2026, 3, d) for d in range(1, 9)]
HOLDOUT_DAYS = [dt.date(2026, 3, 9), dt.date(2026, 3, 10)]
BLOCK_USERS, BLOCK_SONGS, WITHHELD = 20, 20, 5


def event(user, song, action, duration, day, total=200, playback_id=None):
    ts = dt.datetime.combine(day, dt.time(12), dt.UTC)
    return (str(uuid.uuid4()), user, song, int(ts.timestamp() * 1000), action, duration, total,
            "simulation", playback_id, None, None, None, 0, 0, ts, day)  # fmt: skip


def checkerboard(seed=1, train_days=TRAIN_DAYS, holdout_days=HOLDOUT_DAYS):
    """Two blocks: users of block a like songs of block a only, block b likewise. Each user
    completes 15 of the block's 20 songs in the training days and the 5 others in the holdout.
    Returns (events, {user: withheld songs})."""
    rng = random.Random(seed)
    events, withheld = [], {}
    for block in "ab":
        songs = [f"cb-{block}-song-{i:02}" for i in range(BLOCK_SONGS)]
        for u in range(BLOCK_USERS):
            user = f"cb-{block}-user-{u:02}"
            order = rng.sample(songs, len(songs))
            withheld[user] = set(order[:WITHHELD])
            for song in order[WITHHELD:]:
                events.append(event(user, song, "complete", 200, rng.choice(train_days)))
            for song in order[:WITHHELD]:
                events.append(event(user, song, "complete", 200, rng.choice(holdout_days)))
    return events, withheld


def write_lake(spark, root, rows):
    df = spark.createDataFrame(rows, lake.LAKE_SCHEMA)
    df.write.mode("overwrite").partitionBy("date").parquet(lake.events_path(str(root)))


@pytest.fixture(scope="module")
def als_settings(settings, postgres, tmp_path_factory):
    root = tmp_path_factory.mktemp("als-lake")
    with db.connect(postgres, autocommit=True) as conn:  # a clean model registry
        conn.execute("delete from model.active_model")
        for (table,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'model'"
            " and table_name like 'als_factors_%%'"
        ).fetchall():
            conn.execute(f"drop table model.{table} cascade")
        conn.execute("delete from model.als_runs")
    return dataclasses.replace(
        settings,
        lake_uri=str(root),
        als_window_days=10,
        als_holdout_days=2,
        als_rank=8,
        als_reg_param=0.5,
        als_alpha=10.0,
        als_max_iter=10,
        als_eval_k=5,
    )


@pytest.fixture(scope="module")
def board(spark, als_settings):
    events, withheld = checkerboard()
    write_lake(spark, als_settings.lake_uri, events)
    return withheld


def test_event_strengths_weigh_completes_over_listens_and_skips_against(spark):
    day = dt.date(2026, 3, 2)
    rows = [
        event("u1", "complete-once", "complete", 200, day),
        event("u1", "played", "listen", 45, day),
        event("u1", "sampled", "listen", 10, day),
        event("u1", "skipped-early", "skip", 5, day),
        event("u1", "skipped-late", "skip", 120, day),
        event("u1", "complete-thrice", "complete", 200, day),
        event("u1", "complete-thrice", "complete", 200, day),
        event("u1", "complete-thrice", "complete", 200, day),
        event("u1", "mixed", "complete", 200, day),
        event("u1", "mixed", "skip", 3, day),
        event("u1", "cancels", "listen", 10, day),  # +0.1
        event("u1", "cancels", "listen", 10, day),  # +0.1
        event("u1", "cancels", "listen", 10, day),  # +0.1, then two early skips: -0.6
        event("u1", "cancels", "skip", 1, day),
        event("u1", "cancels", "skip", 1, day),
    ]
    duplicate = rows[0]  # the same event_id delivered twice counts once
    df = spark.createDataFrame([*rows, duplicate], lake.LAKE_SCHEMA)

    got = {r.song_id: r.strength for r in als_training.feedback(df, play_min_seconds=30).collect()}

    assert got == pytest.approx(
        {
            "complete-once": 1.0,
            "played": 0.7,
            "sampled": 0.1,
            "skipped-early": -0.3,
            "skipped-late": 0.1,
            "complete-thrice": 3.0,
            "mixed": 0.7,
            "cancels": -0.3,
        }
    )
    assert got["complete-once"] > got["played"] > got["sampled"] > 0 > got["skipped-early"]


def test_a_players_playback_counts_once_as_its_strongest_event(spark):
    """The web player sends a listen at 30 s, then the playback's complete or skip, all with
    one playback_id: one playback, judged by its best evidence."""
    day = dt.date(2026, 3, 2)
    pb = [str(uuid.uuid4()) for _ in range(4)]
    rows = [
        event("u1", "completed", "listen", 30, day, playback_id=pb[0]),
        event("u1", "completed", "complete", 200, day, playback_id=pb[0]),
        event("u1", "skipped-after-the-mark", "listen", 30, day, playback_id=pb[1]),
        event("u1", "skipped-after-the-mark", "skip", 120, day, playback_id=pb[1]),
        event("u1", "completed-twice", "listen", 30, day, playback_id=pb[2]),
        event("u1", "completed-twice", "complete", 200, day, playback_id=pb[2]),
        event("u1", "completed-twice", "listen", 30, day, playback_id=pb[3]),
        event("u1", "completed-twice", "complete", 200, day, playback_id=pb[3]),
        event("u1", "completed-twice", "complete", 200, day),  # and once from another client
    ]
    df = spark.createDataFrame(rows, lake.LAKE_SCHEMA)

    got = {r.song_id: r.strength for r in als_training.feedback(df, play_min_seconds=30).collect()}

    complete, listen = als_training.EVENT_STRENGTH["complete"], 0.7
    assert listen == als_training.EVENT_STRENGTH["listen_played"]
    assert got == pytest.approx(
        {"completed": complete, "skipped-after-the-mark": listen, "completed-twice": 3 * complete}
    )


def at(row, hour):
    """``row`` (an ``event``) moved to ``hour`` of its day."""
    ts = dt.datetime.combine(row[-1], dt.time(hour), dt.UTC)
    return (*row[:3], int(ts.timestamp() * 1000), *row[4:-2], ts, row[-1])


def test_a_listeners_latest_like_or_dislike_counts_once_beside_the_plays(spark):
    day = dt.date(2026, 3, 3)
    rows = [
        at(event("u1", "liked", "like", 0, day), 9),
        at(event("u1", "liked-twice", "like", 0, day), 9),
        at(event("u1", "liked-twice", "like", 0, day), 10),  # the latest counts, once
        at(event("u1", "liked-then-unliked", "like", 0, day), 9),
        at(event("u1", "liked-then-unliked", "unlike", 0, day), 10),
        at(event("u1", "unliked-then-liked", "unlike", 0, day), 9),
        at(event("u1", "unliked-then-liked", "like", 0, day), 10),
        at(event("u1", "played-then-disliked", "complete", 200, day), 8),
        at(event("u1", "played-then-disliked", "complete", 200, day), 9),
        at(event("u1", "played-then-disliked", "dislike", 50, day), 10),
        at(event("u1", "disliked-then-liked", "dislike", 0, day), 9),
        at(event("u1", "disliked-then-liked", "like", 0, day), 10),
        at(event("u2", "liked", "dislike", 0, day), 9),  # another listener's word
    ]
    df = spark.createDataFrame(rows, lake.LAKE_SCHEMA)

    got = {
        (r.user_id, r.song_id): r.strength
        for r in als_training.feedback(df, play_min_seconds=30).collect()
    }

    like, dislike = (
        als_training.FEEDBACK_STRENGTH["like"],
        als_training.FEEDBACK_STRENGTH["dislike"],
    )
    complete = als_training.EVENT_STRENGTH["complete"]
    assert like > 2 * complete and dislike < -2 * complete
    assert got == pytest.approx(
        {
            ("u1", "liked"): like,
            ("u1", "liked-twice"): like,
            ("u1", "unliked-then-liked"): like,
            ("u1", "played-then-disliked"): 2 * complete + dislike,
            ("u1", "disliked-then-liked"): like,
            ("u2", "liked"): dislike,
        }
    )  # liked-then-unliked says nothing: no pair
    assert got[("u1", "played-then-disliked")] < 0


def test_a_song_added_to_playlists_counts_once_beside_the_plays(spark):
    day = dt.date(2026, 3, 3)
    rows = [
        event("u1", "kept", "add_to_playlist", 0, day),
        event("u1", "kept-twice", "add_to_playlist", 0, day),
        event("u1", "kept-twice", "add_to_playlist", 0, day),  # a second playlist: once
        event("u1", "played-and-kept", "complete", 200, day),
        event("u1", "played-and-kept", "add_to_playlist", 0, day),
        event("u1", "skipped-then-kept", "skip", 3, day),
        event("u1", "skipped-then-kept", "add_to_playlist", 0, day),
        event("u2", "played", "complete", 200, day),
    ]
    df = spark.createDataFrame(rows, lake.LAKE_SCHEMA)

    got = {
        (r.user_id, r.song_id): r.strength
        for r in als_training.feedback(df, play_min_seconds=30).collect()
    }

    kept = als_training.PLAYLIST_STRENGTH["add_to_playlist"]
    complete = als_training.EVENT_STRENGTH["complete"]
    skip = als_training.EVENT_STRENGTH["skip_early"]
    assert complete < kept < als_training.FEEDBACK_STRENGTH["like"]
    assert got == pytest.approx(
        {
            ("u1", "kept"): kept,
            ("u1", "kept-twice"): kept,
            ("u1", "played-and-kept"): complete + kept,
            ("u1", "skipped-then-kept"): skip + kept,
            ("u2", "played"): complete,
        }
    )


def test_checkerboard_withheld_songs_come_back_on_top(spark, als_settings, board):
    events = lake.read_events(spark, als_settings.lake_uri)
    pairs = als_training.feedback(
        events.where(events.date < HOLDOUT_DAYS[0]), als_settings.play_min_seconds
    )
    users = als_training.index_ids(pairs, "user_id", "user")
    items = als_training.index_ids(pairs, "song_id", "item")
    ratings = pairs.join(users, "user_id").join(items, "song_id")
    ratings = ratings.selectExpr("user", "item", "cast(strength as float) as rating")
    params = als_training.AlsParams(rank=8, reg_param=0.5, alpha=10.0, max_iter=10)

    model = als_training.train_als(ratings, params)

    n_users, n_items = users.count(), items.count()
    user_f = als_training.factor_matrix(model.userFactors, n_users, 8)
    item_f = als_training.factor_matrix(model.itemFactors, n_items, 8)
    seen = als_training.interaction_matrix(ratings.toPandas(), n_users, n_items)
    user_ids = [r.user_id for r in users.orderBy("user").collect()]
    song_ids = [r.song_id for r in items.orderBy("item").collect()]
    top = top_k(user_f, item_f, WITHHELD, exclude=seen)
    for u, user in enumerate(user_ids):
        assert {song_ids[i] for i in top[u]} == board[user], user


def test_a_small_history_with_a_listener_who_only_skipped_trains(spark):
    """A first own-music history: 6 songs, rank 64, and a listener who only skipped (a
    negative rating: ALS does not regularise that listener, and its solve is singular, so
    Spark failed the run). Such a listener is left out of the fit; its factors stay zero."""
    rows = [(u, i, 3.0) for u in range(3) for i in range(6) if (u + i) % 2 == 0]
    rows.append((3, 1, -1.0))  # the listener who only skipped
    ratings = spark.createDataFrame(rows, "user int, item int, rating float")
    params = als_training.AlsParams(rank=64, reg_param=0.1, alpha=10.0, max_iter=5)

    model = als_training.train_als(ratings, params)

    users = als_training.factor_matrix(model.userFactors, 4, model.rank)
    items = als_training.factor_matrix(model.itemFactors, 6, model.rank)
    assert np.isfinite(items).all() and np.abs(items).sum(axis=1).min() > 0
    assert np.abs(users[:3]).sum(axis=1).min() > 0 and not users[3].any()


def test_a_model_that_learned_passes_the_gate_and_is_served(spark, als_settings, board):
    report = als_training.run(spark, als_settings, END, dag_run_id="test-good")

    assert report.status == "passed", report.reason
    model, popular = report.metrics["model"], report.metrics["popularity"]
    assert model["users"] == 2 * BLOCK_USERS
    assert model["recall"] > 0.9 and model["ndcg"] > 0.9
    assert model["ndcg"] > popular["ndcg"] * 1.5
    with db.connect(als_settings) as conn:
        assert registry.active_version(conn) == report.version
        counts = dict(conn.execute("select kind, count(*) from model.active_factors group by kind"))
        assert counts == {"item": 2 * BLOCK_SONGS, "user": 2 * BLOCK_USERS}
        run = registry.get_version(conn, report.version)
        assert run.status == "passed" and run.active and run.dag_run_id == "test-good"
        assert run.n_interactions == 2 * BLOCK_USERS * BLOCK_SONGS
        assert run.n_events == 2 * BLOCK_USERS * BLOCK_SONGS  # one complete per pair
        assert (run.n_users, run.n_items) == (2 * BLOCK_USERS, 2 * BLOCK_SONGS)
        assert run.n_holdout_users == 2 * BLOCK_USERS
        conn.execute("set enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "explain select id from model.active_factors where kind = 'item'"
                " order by factors <#> (select factors from model.active_factors limit 1)"
                " limit 5"
            ).fetchall()
        )
        assert registry.hnsw_index_name(report.version) in plan, plan
        (indexdef,) = conn.execute(
            "select indexdef from pg_indexes where indexname = %s",
            (registry.hnsw_index_name(report.version),),
        ).fetchone()
        assert "hnsw" in indexdef and "vector_ip_ops" in indexdef


def test_a_bad_model_is_rejected_and_the_active_one_stays(spark, als_settings, board, tmp_path):
    with db.connect(als_settings) as conn:
        active_before = registry.active_version(conn)
    assert active_before is not None
    # the same holdout, but training days whose songs are shuffled across listeners
    rng = random.Random(7)
    events = [r for r in checkerboard()[0]]
    train = [r for r in events if r[-1] < HOLDOUT_DAYS[0]]
    songs = [r[2] for r in train]
    rng.shuffle(songs)
    shuffled = [(*r[:2], s, *r[3:]) for r, s in zip(train, songs, strict=True)]
    write_lake(spark, tmp_path, shuffled + [r for r in events if r[-1] >= HOLDOUT_DAYS[0]])
    bad = dataclasses.replace(als_settings, lake_uri=str(tmp_path))
    params = als_training.AlsParams(rank=2, reg_param=0.05, alpha=10.0, max_iter=1)

    report = als_training.run(spark, bad, END, dag_run_id="test-bad", params=params)

    assert report.status == "rejected"
    assert "NDCG@5" in report.reason
    with db.connect(als_settings) as conn:
        assert registry.active_version(conn) == active_before
        assert registry.get_version(conn, report.version).status == "rejected"
        (tables,) = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'model'"
            " and table_name = %s",
            (f"als_factors_{report.version}",),
        ).fetchone()
        assert tables == 0, "a rejected model's vectors are never written"
        with pytest.raises(registry.NotActivatable):
            registry.activate(conn, report.version, by="test")
        assert registry.active_version(conn) == active_before


def test_activation_swaps_atomically_under_reads(spark, als_settings, board):
    second = als_training.run(spark, als_settings, END, dag_run_id="test-second")
    assert second.status == "passed", second.reason
    with db.connect(als_settings) as conn:
        versions = [v.version for v in registry.list_versions(conn) if v.status == "passed"]
    assert len(versions) == 2
    failures, answers, done = [], [], threading.Event()

    def read_loop():
        with db.connect(als_settings, autocommit=True) as conn:
            while not done.is_set():
                try:
                    rows = conn.execute(
                        "select version, id from model.active_factors where kind = 'item'"
                        " order by factors <#> (select factors from model.active_factors"
                        " where kind = 'user' and id = 'cb-a-user-00') limit 5"
                    ).fetchall()
                    answers.append({r[0] for r in rows} if rows else set())
                except Exception as err:  # every failure is the test's finding
                    failures.append(repr(err))

    readers = [threading.Thread(target=read_loop) for _ in range(3)]
    for t in readers:
        t.start()
    with db.connect(als_settings, autocommit=True) as conn:
        for i in range(20):
            registry.activate(conn, versions[i % 2], by="swap-test")
    done.set()
    for t in readers:
        t.join()

    assert failures == []
    assert len(answers) > 20
    assert all(len(a) == 1 and a <= set(versions) for a in answers), "a mix or an empty answer"


def test_pruning_keeps_the_active_and_the_newest(spark, als_settings, board):
    third = als_training.run(spark, als_settings, END, dag_run_id="test-third")
    assert third.status == "passed"
    with db.connect(als_settings) as conn:
        passed = [v for v in registry.list_versions(conn) if v.status == "passed"]
        pruned = [v for v in registry.list_versions(conn) if v.status == "pruned"]
        assert len(passed) == als_settings.model_versions_kept
        assert pruned, "the oldest passed version was pruned"
        with pytest.raises(registry.NotActivatable, match="pruned"):
            registry.activate(conn, pruned[0].version, by="test")


def _metrics(ndcg):
    return RankingMetrics(k=10, users=5, precision=0, recall=0, ndcg=ndcg, map=0, coverage=0)


@pytest.mark.parametrize(
    ("model", "popular", "active", "passes"),
    [
        (0.30, 0.20, None, True),
        (0.21, 0.20, None, False),  # not 10% above popularity
        (0.30, 0.20, {"ndcg": 0.32}, True),  # a little below the active one is noise
        (0.30, 0.20, {"ndcg": 0.40}, False),  # clearly worse than the active one
    ],
)
def test_gate_rules(settings, model, popular, active, passes):
    assert (als_training.gate(_metrics(model), _metrics(popular), active, settings) == "") is passes


def test_no_holdout_users_is_rejected(settings):
    empty = RankingMetrics(10, 0, 0, 0, 0, 0, 0)
    assert "no holdout users" in als_training.gate(empty, empty, None, settings)


def test_factor_matrix_rows_follow_ids(spark):
    df = spark.createDataFrame([(2, [1.0, 2.0]), (0, [3.0, 4.0])], "id int, features array<float>")
    assert np.array_equal(
        als_training.factor_matrix(df, 3, 2), np.array([[3, 4], [0, 0], [1, 2]], dtype=np.float32)
    )
