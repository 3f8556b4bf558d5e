"""Train, evaluate, gate and publish the collaborative-filtering model (Spark MLlib ALS).

Reads:  the lake's events of the event days [end - window, end); the active model's record.
Writes: a row of model.als_runs (window, parameters, data sizes, metrics, verdict); when the
        model passes the gate, its vectors (model.als_factors_<v>, its items with an HNSW
        index), then the active-model switch and the pruning of old versions. ALS's
        checkpoints go to a folder of the run's own under ``checkpoint_root()``, removed
        when the run ends.

The window ends at the run's day (``--end``), or, anchored at the newest event
(``als_window_anchor``, ``--window-anchor``), the day after the newest event before it: a
history that ended long ago (an imported Last.fm-1K one ends in 2009) still has a window.

Steps:
1. Events become implicit feedback per (user, song): the sum of each event's strength
   (``EVENT_STRENGTH``), plus the listener's latest like or dislike of the song
   (``FEEDBACK_STRENGTH``), plus a song added to one of their playlists, once
   (``PLAYLIST_STRENGTH``; all three recorded with the run's params). Spark's implicit ALS
   reads a positive sum as "likes it" and a negative one as "does not", each with
   confidence 1 + alpha * |sum|.
2. The last ``holdout_days`` of the window are held out: a model trained on the days before
   must find, for each user, the songs that user played for the first time in the holdout
   (discovery, as on the home page). Recall@K, NDCG@K, MAP@K and coverage are measured for
   the model and for a popularity baseline on the same users.
3. The gate: NDCG@K must beat popularity's by ``als_gate_min_lift`` and must not fall more
   than ``als_gate_max_drop`` below the active model's NDCG@K (as recorded when it passed its
   own holdout). A rejected model is recorded with the reason and never written.
4. A passing model is re-trained on the whole window (so the served vectors know the latest
   days), written, activated atomically; versions beyond ``model_versions_kept`` are pruned.

The same data and parameters give the same model (fixed seed), so a re-run of a day's
training records an equivalent version.

    spark-submit spark_jobs/als_training.py --end 2026-11-21 [--run-id ID]
        [--window-anchor setting|today|newest_event]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import scipy.sparse as sp
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from recsys import db
from recsys import model_registry as registry
from recsys.ranking_metrics import RankingMetrics, evaluate, popularity_top_k, top_k
from recsys.settings import Settings, load_settings
from spark_jobs.common.lake import read_events
from spark_jobs.common.session import spark_session

SEED = 42

# Where the training window ends: at the run's day, or after the newest event in the lake.
WINDOW_ANCHORS = ("today", "newest_event")

# How much one event says about a listener's taste. A complete is the strongest signal; a
# listen past the play threshold nearly as strong; a short listen a hint. A skip before the
# threshold is weak negative evidence: listeners skip liked songs too (wrong moment, heard it
# today), so a skip only outweighs a play when it is repeated several times. A skip after the
# threshold was heard at length and counts as a short listen.
EVENT_STRENGTH = {
    "complete": 1.0,
    "listen_played": 0.7,
    "listen_short": 0.1,
    "skip_early": -0.3,
    "skip_late": 0.1,
}
# What a listener said with the player's buttons: per listener and song, their latest like,
# unlike or dislike counts once, beside the plays (an unlike says nothing). A like outweighs
# two full plays; a dislike outweighs them the other way, so that a disliked song the
# listener played a few times still reads as "does not like it".
FEEDBACK_STRENGTH = {"like": 2.5, "dislike": -2.5, "unlike": 0.0}
# A song the listener added to a playlist (``add_to_playlist``, published by the web app):
# counts once per listener and song, however many playlists it went into or how often it
# was removed and added again. A deliberate keep, worth two full plays; less than a like,
# since a playlist may be kept for a mood or an occasion rather than for taste.
PLAYLIST_STRENGTH = {"add_to_playlist": 2.0}


@dataclass(frozen=True)
class AlsParams:
    rank: int
    reg_param: float
    alpha: float
    max_iter: int

    @classmethod
    def from_settings(cls, settings: Settings) -> AlsParams:
        return cls(settings.als_rank, settings.als_reg_param, settings.als_alpha,
                   settings.als_max_iter)  # fmt: skip

    def as_dict(self) -> dict:
        return {"rank": self.rank, "reg_param": self.reg_param, "alpha": self.alpha,
                "max_iter": self.max_iter}  # fmt: skip


@dataclass
class TrainingReport:
    version: int
    status: str
    reason: str | None = None
    metrics: dict = field(default_factory=dict)
    n_users: int = 0
    n_items: int = 0
    n_interactions: int = 0
    n_holdout_users: int = 0
    n_events: int = 0
    duration_s: float = 0.0


def event_strength(play_min_seconds: int):
    """The strength column of one event (see ``EVENT_STRENGTH``)."""
    heard = F.col("duration") >= play_min_seconds
    s = EVENT_STRENGTH
    return (
        F.when(F.col("action") == "complete", s["complete"])
        .when((F.col("action") == "listen") & heard, s["listen_played"])
        .when(F.col("action") == "listen", s["listen_short"])
        .when((F.col("action") == "skip") & heard, s["skip_late"])
        .when(F.col("action") == "skip", s["skip_early"])
        .otherwise(0.0)
    )


def feedback(events: DataFrame, play_min_seconds: int) -> DataFrame:
    """(user_id, song_id, strength): every event once; the events of one playback (a
    ``playback_id``: the player's 30-s listen, then its complete or skip) count as the
    playback's strongest; strengths summed per pair; pairs that sum to zero say nothing and
    are dropped."""
    events = events.dropDuplicates(["event_id"])
    said = _latest_feedback(events.where(F.col("action").isin(*FEEDBACK_STRENGTH)))
    kept = _kept_in_playlists(events.where(F.col("action").isin(*PLAYLIST_STRENGTH)))
    words = (*FEEDBACK_STRENGTH, *PLAYLIST_STRENGTH)
    events = events.where(~F.col("action").isin(*words)).select(
        "user_id",
        F.col("track_id").alias("song_id"),
        "playback_id",
        event_strength(play_min_seconds).alias("strength"),
    )
    playbacks = (
        events.where(F.col("playback_id").isNotNull())
        .groupBy("user_id", "song_id", "playback_id")
        .agg(F.max("strength").alias("strength"))
        .drop("playback_id")
    )
    return (
        events.where(F.col("playback_id").isNull())
        .drop("playback_id")
        .unionByName(playbacks)
        .unionByName(said)
        .unionByName(kept)
        .groupBy("user_id", "song_id")
        .agg(F.sum("strength").alias("strength"))
        .where(F.abs(F.col("strength")) > 1e-9)
    )


def _kept_in_playlists(added: DataFrame) -> DataFrame:
    """(user_id, song_id, strength) of each song a listener added to a playlist, once."""
    return (
        added.select("user_id", F.col("track_id").alias("song_id"))
        .distinct()
        .withColumn("strength", F.lit(PLAYLIST_STRENGTH["add_to_playlist"]))
    )


def _latest_feedback(words: DataFrame) -> DataFrame:
    """(user_id, song_id, strength) of each listener's latest like, unlike or dislike of
    a song (by timestamp, then event id: the same answer on every run)."""
    latest = Window.partitionBy("user_id", "track_id").orderBy(
        F.col("timestamp").desc(), F.col("event_id").desc()
    )
    strength = F.lit(0.0)
    for action, weight in FEEDBACK_STRENGTH.items():
        strength = F.when(F.col("action") == action, weight).otherwise(strength)
    return (
        words.withColumn("latest", F.row_number().over(latest))
        .where(F.col("latest") == 1)
        .select("user_id", F.col("track_id").alias("song_id"), strength.alias("strength"))
    )


def index_ids(df: DataFrame, column: str, index: str) -> DataFrame:
    """(index, column): the distinct ids numbered 0.. in id order (numbered on the driver:
    even a large catalogue's ids fit there, and the numbering stays deterministic)."""
    ids = sorted(df.select(column).distinct().toArrow().column(0).to_pylist())
    # local data: re-reading it costs less than a cache nobody unpersists
    return df.sparkSession.createDataFrame(list(enumerate(ids)), f"{index} int, {column} string")


def window_end(events: DataFrame, end: date, anchor: str) -> date:
    """The first event day after the training window. Anchored at ``today``: ``end``, the
    run's day. At ``newest_event``: the day after the newest event before ``end`` (events
    from ``end`` on are outside the run's interval either way, so a re-run of the same
    interval trains on the same window), or ``end`` when there is none."""
    if anchor not in WINDOW_ANCHORS:
        raise ValueError(
            f"unknown ALS window anchor {anchor!r} (RECSYS_ALS_WINDOW_ANCHOR or "
            f"--window-anchor): expected one of {', '.join(WINDOW_ANCHORS)}"
        )
    if anchor == "today":
        return end
    (newest,) = events.where(F.col("date") < end).agg(F.max("date")).first()
    return end if newest is None else newest + timedelta(days=1)


def checkpoint_root(settings: Settings) -> str:
    """The folder under which ALS runs keep their checkpoints."""
    root = settings.als_checkpoint_uri or f"{settings.checkpoint_uri.rstrip('/')}/als_training"
    return root.rstrip("/")


def remove_folders(spark, pattern: str) -> None:
    """Delete every folder matching ``pattern`` (a Hadoop glob) with what it holds, on
    whichever file system Spark reaches it by (a local folder, hdfs://, s3a://)."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(pattern)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    for status in fs.globStatus(path) or []:
        fs.delete(status.getPath(), True)


@contextmanager
def als_checkpoints(spark, folder: str) -> Iterator[str]:
    """``folder`` as the SparkContext's checkpoint directory while the block runs. On the way
    out, failures included, the folder goes with every checkpoint in it, and the context's
    previous directory comes back. Read what you need of the models trained in the block
    (their factors) inside it: their lineage leads to those checkpoints."""
    sc = spark.sparkContext
    previous = sc.getCheckpointDir()
    remove_folders(spark, folder)  # what a run killed before cleaning up left there
    sc.setCheckpointDir(folder)
    try:
        yield folder
    finally:
        remove_folders(spark, folder)
        # No public call unsets the directory or sets it back exactly (setCheckpointDir adds
        # a random subfolder): the context's own field is set back to what it was.
        getattr(sc._jsc.sc(), "checkpointDir_$eq")(sc._jvm.scala.Option.apply(previous))


def train_als(
    ratings: DataFrame,
    params: AlsParams,
    blocks: int = 4,
    checkpoint_interval: int = Settings.als_checkpoint_interval,
) -> ALSModel:
    """Implicit-feedback ALS on (user, item, rating) integer-indexed ratings.

    Every ``checkpoint_interval`` iterations ALS checkpoints its factors into the
    SparkContext's checkpoint directory, which cuts their lineage. Without a directory it
    checkpoints nothing, the lineage grows with each iteration, and (de)serialising a task
    overflows a thread's stack (``StackOverflowError`` at MovieLens-1M size from 15
    iterations on). So train inside ``als_checkpoints``; called outside one on a local master,
    it trains in a temporary folder of its own, removed when it returns; a cluster needs a
    folder its executors share, so there that is an error. (``checkpoint_interval=-1``
    turns checkpoints off: only to show that failure.)

    >>> with als_checkpoints(spark, checkpoint_root(settings) + "/adhoc"):
    ...     model = train_als(ratings, AlsParams.from_settings(settings))
    ...     item_factors = factor_matrix(model.itemFactors, n_items, model.rank)
    """
    sc = ratings.sparkSession.sparkContext
    if sc.getCheckpointDir() is None:
        if not sc.master.startswith("local"):
            raise ValueError(
                f"ALS on {sc.master} needs a checkpoint folder every executor reaches: train "
                "inside als_checkpoints(spark, <shared folder>) (the job uses "
                "RECSYS_ALS_CHECKPOINT_URI)"
            )
        with (
            tempfile.TemporaryDirectory(prefix="als-") as scratch,
            als_checkpoints(ratings.sparkSession, f"{scratch}/checkpoints"),
        ):
            return _fit_als(ratings, params, blocks, checkpoint_interval)
    return _fit_als(ratings, params, blocks, checkpoint_interval)


def with_positive_feedback(ratings: DataFrame) -> DataFrame:
    """The ratings of users and songs that have at least one positive rating. Implicit ALS
    regularises each user (and song) by its number of positive ratings: one with only
    negative ones (a listener who only skipped) is solved unregularised, to the zero vector,
    and on a small history (a first own-music import of a few dozen songs) that solve is
    singular and fails the run. Leaving them out changes no factor: theirs stay zero."""
    positive = ratings.where(F.col("rating") > 0)
    return ratings.join(positive.select("user").distinct(), "user", "left_semi").join(
        positive.select("item").distinct(), "item", "left_semi"
    )


def _fit_als(ratings, params, blocks, checkpoint_interval) -> ALSModel:
    als = ALS(
        rank=params.rank,
        regParam=params.reg_param,
        alpha=params.alpha,
        maxIter=params.max_iter,
        implicitPrefs=True,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        checkpointInterval=checkpoint_interval,
        seed=SEED,
    )
    return als.fit(with_positive_feedback(ratings))


def factor_matrix(factors: DataFrame, size: int, rank: int) -> np.ndarray:
    """An ALS factors DataFrame (id, features) as a dense matrix, row = id; ids the model
    never saw keep zero vectors."""
    table = factors.toArrow()
    matrix = np.zeros((size, rank), dtype=np.float32)
    ids = table.column("id").to_numpy()
    if len(ids):
        matrix[ids] = np.stack(table.column("features").to_numpy(zero_copy_only=False))
    return matrix


def interaction_matrix(pairs, n_users: int, n_items: int) -> sp.csr_matrix:
    """A users x items 0/1 matrix from an Arrow table or pandas frame of (user, item)."""
    users = np.asarray(pairs["user"], dtype=np.int64)
    items = np.asarray(pairs["item"], dtype=np.int64)
    data = np.ones(len(users), dtype=np.float32)
    return sp.csr_matrix((data, (users, items)), shape=(n_users, n_items))


@dataclass(frozen=True)
class Holdout:
    """The evaluation task: for ``users``, find ``relevant`` items, never recommending what
    ``seen`` marks (their training interactions)."""

    users: np.ndarray
    relevant: list[set[int]]
    seen: sp.csr_matrix
    popularity: np.ndarray


def holdout_task(train: DataFrame, test: DataFrame, n_users: int, n_items: int) -> Holdout:
    """Train users' positive holdout items that they had no positive interaction with in
    training; popularity is the number of training users with a positive interaction."""
    train_pairs = train.select("user", "item").toPandas()
    positive = train.where("rating > 0").select("user", "item").toPandas()
    seen = interaction_matrix(train_pairs, n_users, n_items)
    liked = interaction_matrix(positive, n_users, n_items)
    popularity = np.asarray(liked.sum(axis=0)).ravel()
    test_pos = test.where("rating > 0").select("user", "item").toPandas()
    known = set(np.unique(positive["user"]))
    relevant: dict[int, set[int]] = {}
    for user, item in zip(test_pos["user"], test_pos["item"], strict=True):
        if user in known and not liked[user, item]:
            relevant.setdefault(int(user), set()).add(int(item))
    users = np.array(sorted(relevant), dtype=np.int64)
    return Holdout(users, [relevant[u] for u in users], seen[users], popularity)


def evaluate_factors(
    user_factors: np.ndarray, item_factors: np.ndarray, task: Holdout, k: int
) -> RankingMetrics:
    recommended = top_k(user_factors[task.users], item_factors, k, exclude=task.seen)
    return evaluate(recommended, task.relevant, k, len(item_factors))


def evaluate_popularity(task: Holdout, k: int) -> RankingMetrics:
    recommended = popularity_top_k(task.popularity, len(task.users), k, task.seen)
    return evaluate(recommended, task.relevant, k, len(task.popularity))


def gate(model: RankingMetrics, popularity: RankingMetrics, active: dict | None, settings) -> str:
    """Why the model may not be served, or '' when it may."""
    if model.users == 0:
        return "no holdout users to evaluate on"
    floor = popularity.ndcg * (1 + settings.als_gate_min_lift)
    if model.ndcg < floor:
        return (
            f"NDCG@{model.k} {model.ndcg:.4f} does not beat popularity ({popularity.ndcg:.4f}) "
            f"by {settings.als_gate_min_lift:.0%} (needs {floor:.4f})"
        )
    if active:
        least = active["ndcg"] * (1 - settings.als_gate_max_drop)
        if model.ndcg < least:
            return (
                f"NDCG@{model.k} {model.ndcg:.4f} is more than {settings.als_gate_max_drop:.0%} "
                f"below the active model's {active['ndcg']:.4f} (needs {least:.4f})"
            )
    return ""


def run(
    spark,
    settings: Settings,
    end: date,
    dag_run_id: str | None = None,
    params: AlsParams | None = None,
    window_anchor: str | None = None,
) -> TrainingReport:
    """Train on the window ending before ``end``, or before the day after the newest event
    when ``window_anchor`` (default: the setting) says so; see the module docstring."""
    params = params or AlsParams.from_settings(settings)
    anchor = window_anchor or settings.als_window_anchor
    began = time.monotonic()
    end = window_end(read_events(spark, settings.lake_uri), end, anchor)
    start = end - timedelta(days=settings.als_window_days)
    holdout_start = end - timedelta(days=settings.als_holdout_days)
    recorded = {
        **params.as_dict(),
        "window_anchor": anchor,
        "event_strength": EVENT_STRENGTH,
        "feedback_strength": FEEDBACK_STRENGTH,
        "playlist_strength": PLAYLIST_STRENGTH,
    }
    checkpoints = checkpoint_root(settings)
    with db.connect(settings, autocommit=True) as conn:
        version = registry.create_run(conn, start, end, holdout_start, recorded, dag_run_id)
        report = TrainingReport(version, "running")
        try:
            # one training at a time (the DAG runs one): other runs' folders are leftovers
            remove_folders(spark, f"{checkpoints}/run-*")
            with als_checkpoints(spark, f"{checkpoints}/run-{version}"):
                window = (start, end, holdout_start)
                _train_and_publish(spark, settings, conn, report, params, *window)
        except BaseException as err:
            report.status, report.reason = "failed", f"{type(err).__name__}: {err}"[:2000]
            raise
        finally:
            report.duration_s = round(time.monotonic() - began, 3)
            registry.finish_run(
                conn,
                version,
                report.status,
                report.reason,
                metrics=report.metrics,
                n_events=report.n_events,
                n_users=report.n_users,
                n_items=report.n_items,
                n_interactions=report.n_interactions,
                n_holdout_users=report.n_holdout_users,
                duration_s=report.duration_s,
            )
    return report


def _train_and_publish(spark, settings, conn, report, params, start, end, holdout_start):
    k = settings.als_eval_k
    events = read_events(spark, settings.lake_uri).where(
        F.col("date").between(start, end - timedelta(days=1))
    )
    report.n_events = events.count()
    pairs = feedback(events, settings.play_min_seconds)
    users = index_ids(pairs, "user_id", "user")
    items = index_ids(pairs, "song_id", "item")
    n_users, n_items = users.count(), items.count()
    if n_users == 0:
        report.status, report.reason = "rejected", "no events in the window"
        return
    train_events = events.where(F.col("date") < holdout_start)
    test_events = events.where(F.col("date") >= holdout_start)

    train = indexed_feedback(train_events, users, items, settings.play_min_seconds).cache()
    test = indexed_feedback(test_events, users, items, settings.play_min_seconds)
    task = holdout_task(train, test, n_users, n_items)
    report.n_holdout_users = len(task.users)

    model = train_als(train, params, checkpoint_interval=settings.als_checkpoint_interval)
    metrics = evaluate_factors(
        factor_matrix(model.userFactors, n_users, model.rank),
        factor_matrix(model.itemFactors, n_items, model.rank),
        task,
        k,
    )
    popularity = evaluate_popularity(task, k)
    active = registry.active_metrics(conn)
    report.metrics = {
        "model": metrics.as_dict(),
        "popularity": popularity.as_dict(),
        **({"active": active} if active else {}),
    }
    report.n_users, report.n_items = n_users, n_items
    report.n_interactions = train.count()
    train.unpersist()
    verdict = gate(metrics, popularity, active, settings)
    if verdict:
        report.status, report.reason = "rejected", verdict
        return

    fit_and_publish(settings, conn, report, params, events, users, items)


def indexed_feedback(events: DataFrame, users: DataFrame, items: DataFrame, play_min_seconds):
    """(user, item, rating) rows of ALS from events, through the window's id indexes."""
    return (
        feedback(events, play_min_seconds)
        .join(users, "user_id")
        .join(items, "song_id")
        .select("user", "item", F.col("strength").cast("float").alias("rating"))
    )


def fit_and_publish(settings, conn, report, params, events, users, items) -> None:
    """Re-train on every event of the window, write the factors and serve them."""
    full = indexed_feedback(events, users, items, settings.play_min_seconds).cache()
    report.n_interactions = full.count()
    final = train_als(full, params, checkpoint_interval=settings.als_checkpoint_interval)
    user_ids = users.orderBy("user").toArrow().column("user_id").to_pylist()
    item_ids = items.orderBy("item").toArrow().column("song_id").to_pylist()
    user_factors = factor_matrix(final.userFactors, len(user_ids), final.rank)
    item_factors = factor_matrix(final.itemFactors, len(item_ids), final.rank)
    full.unpersist()
    with conn.transaction():
        registry.write_factors(conn, report.version, user_ids, user_factors, item_ids, item_factors)
        registry.mark_passed(conn, report.version)
    report.status = "passed"
    registry.activate(conn, report.version, by=f"als_training {report.version}")
    registry.prune(conn, settings.model_versions_kept)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        required=True,
        help="first event day after the training window, YYYY-MM-DD",
    )
    parser.add_argument("--run-id", default=None, help="the Airflow run this training belongs to")
    parser.add_argument(
        "--window-anchor",
        choices=("setting", *WINDOW_ANCHORS),
        default="setting",
        help="where the window ends: at --end (today), at the day after the newest event "
        "before it (newest_event), or as RECSYS_ALS_WINDOW_ANCHOR says (setting, the default)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    spark = spark_session("als_training", settings)
    anchor = None if args.window_anchor == "setting" else args.window_anchor
    report = run(spark, settings, args.end, args.run_id, window_anchor=anchor)
    print(report)
    if report.status == "failed":
        sys.exit(1)


if __name__ == "__main__":
    main()
