"""ALS at real size: the training job's ``train_als`` on a matrix of MovieLens-1M's size.

The matrix is synthetic, generated with a fixed seed in MovieLens-1M's shape: 6,040 users x
3,706 items, exactly 1,000,000 interactions (4.5% dense), each user with at least 20. Item
popularity has a long tail (Zipf-like: the most popular item is in about 60% of the users'
rows, as MovieLens-1M's is in 57%; the top 10% of items hold over 40% of the interactions)
and user activity is log-normal (a median near 100, a few users above 1,500), as in the
real data set. The values are implicit strengths, repeat counts of 1 and up.

It trains at 20 iterations, rank 64 (the served rank), with the settings' regParam, alpha
and checkpoint interval, inside ``als_checkpoints`` as the nightly job does. Seconds per
iteration are the slope between a fit at 2 iterations and one at 20, after an untimed
1-iteration warm-up, so fixed costs (blocking the ratings, job start-up) cancel.

``--without-checkpoints`` trains the same matrix at the same iterations with checkpoints
turned off, to see whether the ``StackOverflowError`` they prevent happens on this machine.

Needs no service; the checkpoints (under ``checkpoint_root``) are removed when it ends.

    python -m bench.als_scale [--iterations 20] [--rank 64] [--without-checkpoints]
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from py4j.protocol import Py4JError, Py4JJavaError
from pyspark.sql import DataFrame, SparkSession

from recsys.settings import load_settings
from spark_jobs.als_training import (
    AlsParams,
    als_checkpoints,
    checkpoint_root,
    factor_matrix,
    train_als,
)
from spark_jobs.common.session import spark_session

N_USERS, N_ITEMS, N_INTERACTIONS = 6_040, 3_706, 1_000_000
MIN_PER_USER = 20
SEED = 42


def synthetic_interactions(
    n_users: int = N_USERS,
    n_items: int = N_ITEMS,
    n_interactions: int = N_INTERACTIONS,
    seed: int = SEED,
) -> pd.DataFrame:
    """(user, item, rating): ``n_interactions`` distinct pairs in MovieLens-1M's shape (see
    the module docstring), the same for the same arguments."""
    rng = np.random.default_rng(seed)
    # user activity: log-normal, at least MIN_PER_USER, summing to exactly n_interactions
    activity = rng.lognormal(mean=0.0, sigma=1.0, size=n_users)
    spare = n_interactions - MIN_PER_USER * n_users
    counts = MIN_PER_USER + np.floor(activity / activity.sum() * spare).astype(np.int64)
    counts = np.minimum(counts, n_items // 2)
    while (short := n_interactions - counts.sum()) > 0:  # flooring and the cap left some out
        room = np.flatnonzero(counts < n_items // 2)
        counts[rng.choice(room, size=min(short, len(room)), replace=False)] += 1
    # item popularity: Zipf-like over a random order of the items
    weights = 1.0 / (np.arange(n_items) + 30.0)
    weights = weights[rng.permutation(n_items)]
    weights /= weights.sum()
    users = np.repeat(np.arange(n_users, dtype=np.int32), counts)
    items = np.concatenate(
        [rng.choice(n_items, size=count, replace=False, p=weights) for count in counts]
    ).astype(np.int32)
    ratings = rng.geometric(0.5, size=n_interactions).astype(np.float32)
    return pd.DataFrame({"user": users, "item": items, "rating": ratings})


def shape_of(frame: pd.DataFrame) -> str:
    """How the matrix looks: sizes, density, the popularity tail, users' activity."""
    n_users, n_items = frame["user"].nunique(), frame["item"].nunique()
    popularity = np.sort(frame["item"].value_counts().to_numpy())[::-1]
    top_tenth = popularity[: max(1, len(popularity) // 10)].sum() / len(frame)
    activity = frame["user"].value_counts()
    return (
        f"{n_users:,} users x {n_items:,} items, {len(frame):,} interactions "
        f"({len(frame) / (n_users * n_items):.2%} dense); the most popular item in "
        f"{popularity[0] / n_users:.0%} of users, the top 10% of items hold {top_tenth:.0%}; "
        f"per user min {activity.min()}, median {activity.median():.0f}, max {activity.max()}"
    )


@dataclass(frozen=True)
class ScaleRun:
    seconds: dict[int, float]  # iterations -> seconds of the fit
    factors_finite: bool

    @property
    def per_iteration(self) -> float:
        lo, hi = min(self.seconds), max(self.seconds)
        return (self.seconds[hi] - self.seconds[lo]) / (hi - lo)


def train_at_scale(
    spark: SparkSession,
    ratings: DataFrame,
    params: AlsParams,
    checkpoint_interval: int,
    folder: str,
) -> ScaleRun:
    """Fits of ``train_als`` at 1 (warm-up), 2 and ``params.max_iter`` iterations with
    ``folder`` as their checkpoint folder (removed afterwards); raises what Spark raises."""
    seconds, finite = {}, False
    with als_checkpoints(spark, folder):
        train_als(ratings, replace(params, max_iter=1), checkpoint_interval=checkpoint_interval)
        for iterations in (2, params.max_iter):
            started = time.perf_counter()
            model = train_als(
                ratings,
                replace(params, max_iter=iterations),
                checkpoint_interval=checkpoint_interval,
            )
            factors = factor_matrix(model.itemFactors, N_ITEMS, params.rank)
            seconds[iterations] = time.perf_counter() - started
        finite = bool(np.isfinite(factors).all() and np.abs(factors).sum() > 0)
    return ScaleRun(seconds, finite)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20, help="ALS iterations (maxIter)")
    parser.add_argument("--rank", type=int, default=64, help="ALS rank")
    parser.add_argument(
        "--without-checkpoints",
        action="store_true",
        help="train once with checkpoints off instead (checkpointInterval -1)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    params = replace(AlsParams.from_settings(settings), rank=args.rank, max_iter=args.iterations)
    started = time.perf_counter()
    frame = synthetic_interactions()
    print(f"synthetic MovieLens-1M-sized matrix (seed {SEED}): {shape_of(frame)}", flush=True)
    spark = spark_session("bench_als_scale", settings, **{"spark.ui.showConsoleProgress": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    try:
        ratings = spark.createDataFrame(frame).cache()
        ratings.count()
        print(
            f"built in {time.perf_counter() - started:.0f}s; rank {params.rank}, regParam "
            f"{params.reg_param}, alpha {params.alpha}, {params.max_iter} iterations, "
            f"{spark.sparkContext.defaultParallelism} Spark cores",
            flush=True,
        )
        if args.without_checkpoints:
            return without_checkpoints(spark, ratings, params)
        interval = settings.als_checkpoint_interval
        folder = f"{checkpoint_root(settings)}/bench-als-scale"
        run = train_at_scale(spark, ratings, params, interval, folder)
    finally:
        with suppress(Py4JError):  # the JVM is gone when an executor's error ended it
            spark.stop()
    print(
        f"with checkpoints every {interval} iterations: 2 iterations {run.seconds[2]:.1f}s, "
        f"{params.max_iter} iterations {run.seconds[params.max_iter]:.1f}s; "
        f"{run.per_iteration:.2f}s per iteration; factors finite: {run.factors_finite}"
    )
    print("OK" if run.factors_finite else "FAILED: the factors are not finite")
    return 0 if run.factors_finite else 1


def without_checkpoints(spark: SparkSession, ratings: DataFrame, params: AlsParams) -> int:
    """Train once with checkpoints off and say what happened (0 either way: it shows)."""
    started = time.perf_counter()
    try:
        train_als(ratings, params, checkpoint_interval=-1).itemFactors.count()
    except Py4JJavaError as err:
        seconds = time.perf_counter() - started
        text = str(err.java_exception).splitlines()[0]
        # A StackOverflowError in an executor thread of a local master stops the
        # SparkContext and ends the JVM; the error Python hears may then be only the
        # cancelled job's, and Spark's log above has the cause.
        stopped = True
        with suppress(Py4JError):
            stopped = spark.sparkContext._jsc.sc().isStopped()
        cause = "; the SparkContext was stopped (Spark's log above says why)" if stopped else ""
        print(f"without checkpoints: failed after {seconds:.0f}s: {text}{cause}")
        return 0
    print(
        f"without checkpoints: trained {params.max_iter} iterations in "
        f"{time.perf_counter() - started:.0f}s with no error on this machine"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
