"""Train, evaluate, gate and publish the collaborative-filtering model (Spark MLlib ALS).

Reads:  the lake's events of the event days [end - window, end); the active model's record.
Writes: a row of model.als_runs (window, parameters, data sizes, metrics, verdict); when the
        model passes the gate, its vectors (model.als_factors_<v>, its items with an HNSW
        index), then the active-model switch and the pruning of old versions.

Steps:
1. Events become implicit feedback per (user, song): the sum of each event's strength
   (``EVENT_STRENGTH``). Spark's implicit ALS reads a positive sum as "likes it" and a negative
   one as "does not", each with confidence 1 + alpha * |sum|.
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
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import scipy.sparse as sp
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from recsys import db
from recsys import model_registry as registry
from recsys.ranking_metrics import RankingMetrics, evaluate, popularity_top_k, top_k
from recsys.settings import Settings, load_settings
from spark_jobs.common.lake import read_events
from spark_jobs.common.session import spark_session

SEED = 42

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
    events = events.dropDuplicates(["event_id"]).select(
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
        .groupBy("user_id", "song_id")
        .agg(F.sum("strength").alias("strength"))
        .where(F.abs(F.col("strength")) > 1e-9)
    )


def index_ids(df: DataFrame, column: str, index: str) -> DataFrame:
    """(index, column): the distinct ids numbered 0.. in id order (numbered on the driver:
    even a large catalogue's ids fit there, and the numbering stays deterministic)."""
    ids = sorted(df.select(column).distinct().toArrow().column(0).to_pylist())
    # local data: re-reading it costs less than a cache nobody unpersists
    return df.sparkSession.createDataFrame(list(enumerate(ids)), f"{index} int, {column} string")


def train_als(ratings: DataFrame, params: AlsParams, blocks: int = 4) -> ALSModel:
    """Implicit-feedback ALS on (user, item, rating) integer-indexed ratings."""
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
        seed=SEED,
    )
    return als.fit(ratings)


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
) -> TrainingReport:
    """Train on the window ending before ``end``; see the module docstring."""
    params = params or AlsParams.from_settings(settings)
    start = end - timedelta(days=settings.als_window_days)
    holdout_start = end - timedelta(days=settings.als_holdout_days)
    began = time.monotonic()
    with db.connect(settings, autocommit=True) as conn:
        version = registry.create_run(conn, start, end, holdout_start, params.as_dict(), dag_run_id)
        report = TrainingReport(version, "running")
        try:
            _train_and_publish(spark, settings, conn, report, params, start, end, holdout_start)
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
                n_users=report.n_users,
                n_items=report.n_items,
                n_interactions=report.n_interactions,
                duration_s=report.duration_s,
            )
    return report


def _train_and_publish(spark, settings, conn, report, params, start, end, holdout_start):
    k = settings.als_eval_k
    events = read_events(spark, settings.lake_uri).where(
        F.col("date").between(start, end - timedelta(days=1))
    )
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

    model = train_als(train, params)
    metrics = evaluate_factors(
        factor_matrix(model.userFactors, n_users, params.rank),
        factor_matrix(model.itemFactors, n_items, params.rank),
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
    final = train_als(full, params)
    user_ids = users.orderBy("user").toArrow().column("user_id").to_pylist()
    item_ids = items.orderBy("item").toArrow().column("song_id").to_pylist()
    user_factors = factor_matrix(final.userFactors, len(user_ids), params.rank)
    item_factors = factor_matrix(final.itemFactors, len(item_ids), params.rank)
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    spark = spark_session("als_training", settings)
    report = run(spark, settings, args.end, args.run_id)
    print(report)
    if report.status == "failed":
        sys.exit(1)


if __name__ == "__main__":
    main()
