"""The project's Spark ALS on MovieLens-100K, measured as published benchmarks measure it.

Protocol (Microsoft Recommenders' benchmark): a 75/25 split of the ratings stratified per
user; for each test user, the top 10 movies that user did not rate in training; every test
rating counts as relevant, whatever its stars; NDCG@10, Precision@10, Recall@10 and MAP@10
from ``recsys.ranking_metrics``. Popularity is measured the same way beside it.

Hyperparameters are chosen on a validation split carved from the training 75% (75/25 per
user again, another seed); the test 25% is used once, by the chosen model. The search is a
grid in two stages, every point printed with its validation NDCG@10:

1. how stars become implicit feedback, ``regParam`` and ``alpha``, at rank 16, 15 iterations;
2. for the best of stage 1, ``rank`` and ``maxIter``.

A point Spark cannot fit (its normal equations not positive definite) is printed as such and
left out of the choice.

The chosen model is then re-trained on the whole training 75% with ``train_als`` (the same
code that trains the served model) and measured on the test 25%.

Reads:  MovieLens-100K through ``evaluation.movielens`` (fetched once into the cache).
Writes: nothing; prints the search and a table, exits 1 when NDCG@10 misses ``TARGET_NDCG``.

    python -m evaluation.als_movielens [--skip-search] [--blocks 2]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd
from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

from evaluation import movielens
from recsys.ranking_metrics import RankingMetrics
from recsys.settings import load_settings
from spark_jobs.als_training import (
    AlsParams,
    Holdout,
    evaluate_factors,
    evaluate_popularity,
    factor_matrix,
    holdout_task,
    train_als,
)
from spark_jobs.common.session import spark_session

K = 10
TARGET_NDCG = 0.46
TEST_SEED = 42  # Recommenders' default seed for the 75/25 split
VALIDATION_SEED = 7

# How a rating of 1-5 stars becomes the implicit-feedback strength ALS reads (confidence
# 1 + alpha * |strength|; a negative strength says "does not like it").
FEEDBACK: dict[str, Callable[[pd.Series], pd.Series]] = {
    # more stars, more confidence that the movie is liked
    "stars": lambda stars: stars,
    # having rated a movie at all is the signal (watching it); stars are ignored
    "rated": lambda stars: pd.Series(1.0, index=stars.index),
    # 1-2 stars are evidence against, 3-5 for, growing with the distance from 2.5
    "stars-2.5": lambda stars: stars - 2.5,
}

STAGE1_FEEDBACK = tuple(FEEDBACK)
STAGE1_REG_PARAMS = (0.1, 0.3, 1.0)
STAGE1_ALPHAS = (0.1, 0.3, 1.0, 3.0)
STAGE1_RANK, STAGE1_MAX_ITER = 16, 15
STAGE2_RANKS = (8, 16, 32, 48)
STAGE2_MAX_ITERS = (10, 15, 20)

# Published NDCG@10 on the same protocol, and what the issue measured on this machine.
REFERENCE_NDCG = [
    ("BiVAE (Recommenders, published)", 0.475),
    ("implicit ALS, 16 factors (measured here)", 0.471),
    ("Spark ALS implicit, rank 16 untuned (measured here)", 0.464),
    ("BPR (Recommenders, published)", 0.442),
    ("LightGCN (Recommenders, published)", 0.420),
    ("Gorse WRMF (Gorse, published)", 0.416),
    ("SAR (Recommenders, published)", 0.382),
    ("Spark ALS explicit (Recommenders, published)", 0.044),
]


@dataclass(frozen=True)
class Candidate:
    """One point of the search: how stars become feedback, and the ALS parameters."""

    feedback: str
    params: AlsParams

    def __str__(self) -> str:
        p = self.params
        return (
            f"feedback={self.feedback:<9} rank={p.rank:<3} regParam={p.reg_param:<5} "
            f"alpha={p.alpha:<4} maxIter={p.max_iter}"
        )


# The search's pick when last run (validation NDCG@10 0.2694; test NDCG@10 0.4870 on a
# 2-core machine); --skip-search and the integration test use it without searching.
CHOSEN = Candidate("stars", AlsParams(rank=32, reg_param=0.3, alpha=0.3, max_iter=10))


@dataclass(frozen=True)
class Indexed:
    """Ratings with dense integer ids: ``user``, ``item`` (0..n-1), ``rating`` (stars)."""

    ratings: pd.DataFrame
    n_users: int
    n_items: int


def index_ratings(ratings: pd.DataFrame) -> Indexed:
    """Number users and items 0.. in id order over the whole data set, so every split shares
    one numbering."""
    users, _ = pd.factorize(ratings["user_id"], sort=True)
    items, _ = pd.factorize(ratings["item_id"], sort=True)
    frame = pd.DataFrame(
        {"user": users.astype("int32"), "item": items.astype("int32"),
         "rating": ratings["rating"].astype("float32").to_numpy()},
        index=ratings.index,
    )  # fmt: skip
    return Indexed(frame, int(users.max()) + 1, int(items.max()) + 1)


def _spark_frame(spark: SparkSession, ratings: pd.DataFrame, feedback: str = "stars"):
    strength = FEEDBACK[feedback](ratings["rating"]).astype("float32")
    return spark.createDataFrame(ratings[["user", "item"]].assign(rating=strength))


def task_of(spark: SparkSession, train: pd.DataFrame, test: pd.DataFrame, data: Indexed):
    """The evaluation task: each test user's test movies, never recommending the movies that
    user rated in ``train``. Stars are all positive, so every test rating is relevant and
    popularity counts each movie's raters in ``train``."""
    return holdout_task(
        _spark_frame(spark, train), _spark_frame(spark, test), data.n_users, data.n_items
    )


def fit_and_score(
    spark: SparkSession,
    train: pd.DataFrame,
    task: Holdout,
    candidate: Candidate,
    data: Indexed,
    blocks: int,
) -> RankingMetrics:
    """Train ``candidate`` on ``train`` with the project's ``train_als``; its metrics on
    ``task``."""
    ratings = _spark_frame(spark, train, candidate.feedback).cache()
    try:
        model = train_als(ratings, candidate.params, blocks=blocks)
        rank = candidate.params.rank
        return evaluate_factors(
            factor_matrix(model.userFactors, data.n_users, rank),
            factor_matrix(model.itemFactors, data.n_items, rank),
            task,
            K,
        )
    finally:
        ratings.unpersist()


def stage1_grid() -> list[Candidate]:
    return [
        Candidate(feedback, AlsParams(STAGE1_RANK, reg, alpha, STAGE1_MAX_ITER))
        for feedback, reg, alpha in itertools.product(
            STAGE1_FEEDBACK, STAGE1_REG_PARAMS, STAGE1_ALPHAS
        )
    ]


def stage2_grid(best: Candidate) -> list[Candidate]:
    p = best.params
    return [
        Candidate(best.feedback, AlsParams(rank, p.reg_param, p.alpha, max_iter))
        for rank, max_iter in itertools.product(STAGE2_RANKS, STAGE2_MAX_ITERS)
    ]


def _best(scored: Iterable[tuple[Candidate, float | None]]) -> Candidate:
    # ties go to the earlier (smaller, cheaper) point: max keeps the first maximum
    fitted = [(candidate, ndcg) for candidate, ndcg in scored if ndcg is not None]
    return max(fitted, key=lambda pair: pair[1])[0]


def _validation_ndcg(spark, fit, task, candidate, data, blocks) -> tuple[float | None, str]:
    """(NDCG@K, '') of one point, or (None, why) when Spark cannot fit it."""
    try:
        return fit_and_score(spark, fit, task, candidate, data, blocks).ndcg, ""
    except Py4JJavaError as err:
        # Spark regularises an implicit factor by regParam times its *positive* ratings, so
        # a movie with only negative feedback gets none; when the other side's factors are
        # rank-deficient (a strong regParam shrinks many to zero) its system is singular.
        if "SingularMatrixException" not in str(err):
            raise
        return None, "Spark could not fit it: a normal equation was not positive definite"


def search(spark: SparkSession, train: pd.DataFrame, data: Indexed, blocks: int, out=print):
    """The candidate with the best validation NDCG@K, chosen on a split of ``train`` only;
    prints every point. Returns (chosen, [(candidate, validation NDCG@K or None)])."""
    fit, validation = movielens.stratified_split(train, 0.75, VALIDATION_SEED, by="user")
    task = task_of(spark, fit, validation, data)
    out(
        f"validation: {len(fit):,} ratings to fit, {len(validation):,} to find, "
        f"{len(task.users)} users; popularity NDCG@{K} {evaluate_popularity(task, K).ndcg:.4f}"
    )
    scored: list[tuple[Candidate, float | None]] = []
    for stage, grid in (("1", stage1_grid), ("2", lambda: stage2_grid(_best(scored)))):
        for candidate in grid():
            if any(candidate == seen for seen, _ in scored):
                continue  # stage 2 repeats stage 1's winner
            started = time.monotonic()
            ndcg, failure = _validation_ndcg(spark, fit, task, candidate, data, blocks)
            scored.append((candidate, ndcg))
            result = failure or f"validation NDCG@{K} {ndcg:.4f}"
            out(f"  stage {stage}  {candidate}  {result}  ({time.monotonic() - started:.1f}s)")
    return _best(scored), scored


def _row(name: str, m: RankingMetrics | None, ndcg: float | None = None) -> str:
    if m is None:
        return f"{name:<52} {ndcg:>8.3f} {'-':>8} {'-':>8} {'-':>8}"
    return f"{name:<52} {m.ndcg:>8.4f} {m.precision:>8.4f} {m.recall:>8.4f} {m.map:>8.4f}"


def report_table(chosen: Candidate, model: RankingMetrics, popularity: RankingMetrics) -> str:
    head = (
        f"{'MovieLens-100K, 75/25 per user, top 10':<52} "
        f"{'NDCG@10':>8} {'P@10':>8} {'R@10':>8} {'MAP@10':>8}"
    )
    lines = [head, "-" * len(head)]
    lines.append(_row("Spark ALS implicit, chosen on validation (this run)", model))
    lines.append(_row("popularity (this run)", popularity))
    lines += [_row(name, None, ndcg) for name, ndcg in REFERENCE_NDCG]
    lines.append(f"chosen: {chosen}")
    lines.append(f"test users: {model.users}; target NDCG@{K} >= {TARGET_NDCG}")
    return "\n".join(lines)


def evaluate(
    spark: SparkSession, ratings: pd.DataFrame, chosen: Candidate | None, blocks: int, out=print
) -> tuple[Candidate, RankingMetrics, RankingMetrics]:
    """Split, search (unless ``chosen`` is given), re-train on the training 75%, measure on
    the test 25%. Returns (chosen, model metrics, popularity metrics)."""
    data = index_ratings(ratings)
    train, test = movielens.stratified_split(data.ratings, 0.75, TEST_SEED, by="user")
    out(f"ratings: {len(data.ratings):,} ({data.n_users} users, {data.n_items} movies); "
        f"train {len(train):,}, test {len(test):,}")  # fmt: skip
    if chosen is None:
        chosen, _ = search(spark, train, data, blocks, out)
    task = task_of(spark, train, test, data)
    model = fit_and_score(spark, train, task, chosen, data, blocks)
    return chosen, model, evaluate_popularity(task, K)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-search",
        action="store_true",
        help=f"use the last search's pick ({CHOSEN}) instead of searching",
    )
    parser.add_argument("--blocks", type=int, default=2, help="ALS user and item blocks")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; 0 when NDCG@10 reaches the target, 1 when it does not."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    ratings = movielens.load_ratings(settings.cache_dir)
    spark = spark_session(
        "evaluate_movielens",
        settings,
        **{"spark.sql.shuffle.partitions": "4", "spark.ui.showConsoleProgress": "false"},
    )
    spark.sparkContext.setLogLevel("ERROR")
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="als-checkpoints-") as checkpoints:
            # ALS cuts its lineage every 10 iterations only when it has a checkpoint folder;
            # without one, 20 iterations overflow the driver's stack serialising a task.
            spark.sparkContext.setCheckpointDir(checkpoints)
            chosen, model, popularity = evaluate(
                spark, ratings, CHOSEN if args.skip_search else None, args.blocks
            )
    finally:
        spark.stop()
    print()
    print(report_table(chosen, model, popularity))
    print(f"took {time.monotonic() - started:.0f}s")
    if model.ndcg < TARGET_NDCG:
        print(
            f"FAILED: NDCG@{K} {model.ndcg:.4f} is below the target {TARGET_NDCG}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
