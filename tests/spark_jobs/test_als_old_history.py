"""ALS on a history that ended years ago (an imported Last.fm-1K one ends in 2009), on real
Spark and PostgreSQL: the window anchored at the newest event, the default anchor's empty
window, and the checkpoints that let ALS run many iterations, removed when the run ends."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from pathlib import Path

import pytest

from recsys import db
from recsys import model_registry as registry
from spark_jobs import als_training
from spark_jobs.common import lake
from tests.spark_jobs.test_als_training import (  # noqa: F401 (als_settings: a fixture)
    BLOCK_SONGS,
    BLOCK_USERS,
    als_settings,
    checkerboard,
    event,
    write_lake,
)

pytestmark = pytest.mark.integration

# The history: the checkerboard (each listener completes 15 songs of a block in the training
# days, the block's other 5 in the last two), in May 2009.
OLD_TRAIN = [dt.date(2009, 5, d) for d in range(1, 9)]
OLD_HOLDOUT = [dt.date(2009, 5, 9), dt.date(2009, 5, 10)]
OLD_EVENTS = 2 * BLOCK_USERS * BLOCK_SONGS  # 800
# als_settings: a 10-day window with a 2-day holdout
OLD_WINDOW = (dt.date(2009, 5, 1), dt.date(2009, 5, 11), dt.date(2009, 5, 9))


@pytest.fixture(scope="module")
def old_history(spark, als_settings, tmp_path_factory):  # noqa: F811
    """Settings whose lake holds only the 2009 history and whose ALS checkpoints go to a
    folder of the test's."""
    events, _ = checkerboard(train_days=OLD_TRAIN, holdout_days=OLD_HOLDOUT)
    assert len(events) == OLD_EVENTS
    lake_root = tmp_path_factory.mktemp("lake-2009")
    write_lake(spark, lake_root, events)
    return dataclasses.replace(
        als_settings,
        lake_uri=str(lake_root),
        als_checkpoint_uri=str(tmp_path_factory.mktemp("als-checkpoints")),
    )


def recorded(settings, version):
    with db.connect(settings) as conn:
        return registry.get_version(conn, version)


def window_of(run):
    return run.window_start, run.window_end, run.holdout_start


def test_the_window_ends_after_the_newest_event_before_the_runs_day(spark):
    rows = [
        event("u1", "s1", "complete", 200, dt.date(2009, 5, 10)),
        event("u1", "s2", "complete", 200, dt.date(2026, 3, 5)),
    ]
    events = spark.createDataFrame(rows, lake.LAKE_SCHEMA)
    window_end = als_training.window_end

    assert window_end(events, dt.date(2026, 3, 11), "today") == dt.date(2026, 3, 11)
    assert window_end(events, dt.date(2026, 3, 11), "newest_event") == dt.date(2026, 3, 6)
    # an event on or after the run's day is outside its interval: a re-run sees the same window
    assert window_end(events, dt.date(2026, 3, 5), "newest_event") == dt.date(2009, 5, 11)
    empty = spark.createDataFrame([], lake.LAKE_SCHEMA)
    assert window_end(empty, dt.date(2026, 3, 11), "newest_event") == dt.date(2026, 3, 11)
    with pytest.raises(ValueError, match="RECSYS_ALS_WINDOW_ANCHOR.*today, newest_event"):
        window_end(events, dt.date(2026, 3, 11), "newest")


def test_by_default_a_history_that_ended_in_2009_leaves_todays_window_empty(spark, old_history):
    today = dt.date.today()
    assert old_history.als_window_anchor == "today"

    report = als_training.run(spark, old_history, today, dag_run_id="old-history-today")

    assert (report.status, report.reason) == ("rejected", "no events in the window")
    run = recorded(old_history, report.version)
    assert run.status == "rejected" and not run.active
    assert window_of(run) == (today - dt.timedelta(days=10), today, today - dt.timedelta(days=2))
    assert run.n_events == 0 and run.n_users == 0
    assert run.params["window_anchor"] == "today"


def test_anchored_at_the_newest_event_it_trains_on_2009_and_serves(spark, old_history):
    report = als_training.run(
        spark, old_history, dt.date.today(), dag_run_id="old-history", window_anchor="newest_event"
    )

    # the checkerboard is easy to learn: the gate lets it through, with no reason to record
    assert (report.status, report.reason) == ("passed", None)
    run = recorded(old_history, report.version)
    assert window_of(run) == OLD_WINDOW
    assert run.params["window_anchor"] == "newest_event"
    assert run.status == "passed" and run.active
    assert run.n_events == OLD_EVENTS and run.n_interactions == OLD_EVENTS
    assert (run.n_users, run.n_items, run.n_holdout_users) == (40, 40, 40)
    assert run.metrics["model"]["ndcg"] > 1.5 * run.metrics["popularity"]["ndcg"]


def test_the_anchor_setting_gives_the_same_window_as_the_param(spark, old_history):
    settings = dataclasses.replace(old_history, als_window_anchor="newest_event")
    params = dataclasses.replace(als_training.AlsParams.from_settings(settings), max_iter=2)

    report = als_training.run(spark, settings, dt.date.today(), "old-setting", params=params)

    assert window_of(recorded(settings, report.version)) == OLD_WINDOW


def test_the_job_trains_25_iterations_with_checkpoints_it_then_removes(
    spark, old_history, monkeypatch
):
    root = Path(old_history.als_checkpoint_uri)
    (root / "run-0" / "abandoned").mkdir(parents=True)  # what a killed run would leave
    context_dir_before = spark.sparkContext.getCheckpointDir()
    fits = []
    train_als = als_training.train_als

    def train_and_look(ratings, params, **kwargs):
        model = train_als(ratings, params, **kwargs)
        folder = Path(spark.sparkContext.getCheckpointDir().removeprefix("file:"))
        fits.append((params.max_iter, kwargs, folder, sorted(p.name for p in folder.iterdir())))
        return model

    monkeypatch.setattr(als_training, "train_als", train_and_look)
    params = dataclasses.replace(als_training.AlsParams.from_settings(old_history), max_iter=25)

    report = als_training.run(
        spark, old_history, dt.date.today(), "old-25", params=params, window_anchor="newest_event"
    )

    assert report.status == "passed", report.reason
    assert len(fits) == 2, "the holdout model and the served one"
    for iterations, kwargs, folder, written in fits:
        assert iterations == 25
        assert kwargs == {"checkpoint_interval": old_history.als_checkpoint_interval}
        assert folder.parent == root / f"run-{report.version}"
        assert written and all(name.startswith("rdd-") for name in written), written
    assert list(root.iterdir()) == [], "the run's checkpoints and the leftover are gone"
    assert spark.sparkContext.getCheckpointDir() == context_dir_before


def test_train_als_outside_a_checkpoint_folder_uses_one_of_its_own(spark, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    events, _ = checkerboard()
    pairs = als_training.feedback(
        spark.createDataFrame(events, lake.LAKE_SCHEMA), play_min_seconds=30
    )
    users = als_training.index_ids(pairs, "user_id", "user")
    items = als_training.index_ids(pairs, "song_id", "item")
    ratings = pairs.join(users, "user_id").join(items, "song_id")
    ratings = ratings.selectExpr("user", "item", "cast(strength as float) as rating")
    context_dir_before = spark.sparkContext.getCheckpointDir()
    assert context_dir_before is None, "the session has no checkpoint folder of its own"
    written = []
    fit = als_training._fit_als

    def fit_and_look(*args):
        model = fit(*args)
        folder = Path(spark.sparkContext.getCheckpointDir().removeprefix("file:"))
        written.append((folder, sorted(p.name for p in folder.iterdir())))
        return model

    monkeypatch.setattr(als_training, "_fit_als", fit_and_look)
    params = als_training.AlsParams(rank=8, reg_param=0.5, alpha=10.0, max_iter=20)

    model = als_training.train_als(ratings, params, checkpoint_interval=4)

    [(folder, names)] = written
    assert folder.is_relative_to(tmp_path) and names and names[0].startswith("rdd-")
    assert model.itemFactors.count() == 2 * BLOCK_SONGS  # readable after its folder went
    assert list(tmp_path.iterdir()) == []
    assert spark.sparkContext.getCheckpointDir() is None
