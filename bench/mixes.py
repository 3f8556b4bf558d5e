"""Nightly mixes: the daily_mixes job against a bare Spark job that only reads the same
vectors and writes the same number of rows.

A throwaway stack with a demo world (``--size large``: 20,000 listeners, 20,000 songs): its
last ``--days`` of listening written to the lake as the landing job writes it, the
project's ALS (rank 64) trained on that lake, written and served. Then, in interleaved
rounds, in one warm Spark session:

- **daily_mixes**: the job for the last day (``spark_jobs.daily_mixes.run``): every listener
  active in RECSYS_MIXES_ACTIVE_DAYS, their mixes built and the day written and served, and
  the engagement of the day before's mixes (built once before the rounds, unmeasured).
- **bare**: the floor: the same model version's user and item vectors read from
  PostgreSQL, one row per mix the job wrote (each with as many song ids) made in Spark
  tasks from the listeners' ids, collected and written through ``mix_store.write_day`` to
  another day, in one transaction as the job does.

The ratio is the job's time over the floor's (target: within 5x).

    python -m bench mixes [--size large] [--days 30] [--rounds 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time

import numpy as np
import pandas as pd

from bench.pipeline import write_lake
from bench.stack import throwaway_stack
from recsys import db, mix_store
from recsys import model_registry as registry
from recsys.model_registry.exports import version_factors
from recsysctl import demo

END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
TARGET = 5.0


def train_and_serve(spark, settings, rank: int) -> int:
    """The project's ALS on the lake's events, written and served; returns the version."""
    from spark_jobs import als_training as job
    from spark_jobs.common import lake

    events = lake.read_events(spark, settings.lake_uri)
    pairs = job.feedback(events, settings.play_min_seconds).cache()
    users = job.index_ids(pairs, "user_id", "user")
    items = job.index_ids(pairs, "song_id", "item")
    ratings = job.indexed_feedback(events, users, items, settings.play_min_seconds).cache()
    params = job.AlsParams(rank=rank, reg_param=0.05, alpha=10.0, max_iter=10)
    print(f"training ALS rank {rank} on {ratings.count():,} (user, song) pairs ...", flush=True)
    model = job.train_als(ratings, params)
    user_ids = users.orderBy("user").toPandas()["user_id"].tolist()
    song_ids = items.orderBy("item").toPandas()["song_id"].tolist()
    user_f = job.factor_matrix(model.userFactors, len(user_ids), rank)
    item_f = job.factor_matrix(model.itemFactors, len(song_ids), rank)
    pairs.unpersist()
    ratings.unpersist()
    end = END.date()
    with db.connect(settings, autocommit=True) as conn:
        version = registry.create_run(
            conn, end - dt.timedelta(days=90), end, end - dt.timedelta(days=7), {}, None
        )
        with conn.transaction():
            registry.write_factors(conn, version, user_ids, user_f, song_ids, item_f)
        registry.finish_run(conn, version, "passed")
        registry.activate(conn, version, by="bench")
    return version


def bare_job(spark, settings, version: int, shape: list[tuple[str, int, int]], day: dt.date) -> int:
    """Read the version's vectors, make a row per (listener, position, songs) of ``shape``
    in Spark tasks, write them as mix day ``day``; returns the rows written."""
    with db.connect(settings) as conn:
        user_ids, _ = version_factors(conn, version, "user")
        item_ids, _ = version_factors(conn, version, "item")
    listeners = spark.createDataFrame(
        pd.DataFrame(
            {"user_id": [u for u, _, _ in shape], "position": [p for _, p, _ in shape],
             "songs": [n for _, _, n in shape]}
        )
    )  # fmt: skip
    shared = spark.sparkContext.broadcast(item_ids)

    def rows(batches):
        ids = shared.value
        for batch in batches:
            yield pd.DataFrame(
                {
                    "user_id": batch["user_id"],
                    "position": batch["position"].astype(np.int32),
                    "song_ids": [ids[:n] for n in batch["songs"]],
                }
            )

    table = listeners.mapInPandas(
        rows, "user_id string, position int, song_ids array<string>"
    ).toArrow()
    columns = [table.column(c).to_pylist() for c in ("user_id", "position", "song_ids")]
    written = [(u, p, "daily", "bare", [], s) for u, p, s in zip(*columns, strict=True)]
    with db.connect(settings) as conn:
        mix_store.write_day(conn, day, version, written, settings.mixes_days_kept)
    return len(written)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rank", type=int, default=64)
    args = parser.parse_args(argv)

    environment = {"RECSYS_ALS_WINDOW_DAYS": str(args.days), "RECSYS_SPARK_DRIVER_MEMORY": "4g"}
    # the job's pandas functions run in Python workers: this interpreter, whatever is on PATH
    # (as the DAG's spark-submit sets it)
    os.environ["PYSPARK_PYTHON"] = sys.executable
    with throwaway_stack(args.size, environment=environment) as (settings, world):
        from spark_jobs import daily_mixes
        from spark_jobs.common.session import spark_session

        began = time.perf_counter()
        history = list(demo.generate_history(world, END, days=args.days, seed=7))
        write_lake(settings.lake_uri, history, END - dt.timedelta(days=args.days),
                   dt.timedelta(days=args.days))  # fmt: skip
        print(f"lake: {len(history):,} events of {args.days} days "
              f"({time.perf_counter() - began:.0f} s)", flush=True)  # fmt: skip
        del history
        spark = spark_session("bench-mixes", settings, **{"spark.ui.showConsoleProgress": "false"})
        version = train_and_serve(spark, settings, args.rank)
        day = END.date() - dt.timedelta(days=1)
        # the day before's mixes, not measured: it warms the session, and the measured runs
        # then record their engagement as a nightly run does
        daily_mixes.run(spark, settings, day - dt.timedelta(days=1), "bench-warm-up")
        job_s, bare_s = [], []
        report = None
        for n in range(args.rounds):
            began = time.perf_counter()
            report = daily_mixes.run(spark, settings, day, f"bench-{n}")
            job_s.append(time.perf_counter() - began)
            print(f"round {n + 1}: daily_mixes {job_s[-1]:.1f} s {report.steps}", flush=True)
            with db.connect(settings) as conn:
                shape = [(r[0], r[1], len(r[3])) for r in mix_store.mixes_of_day(conn, day)]
            began = time.perf_counter()
            rows = bare_job(spark, settings, version, shape, day - dt.timedelta(days=2))
            bare_s.append(time.perf_counter() - began)
            print(f"round {n + 1}: bare {bare_s[-1]:.1f} s ({rows:,} rows each)", flush=True)
        job, bare = statistics.median(job_s), statistics.median(bare_s)
        print(
            f"\n{args.size} world, {args.days} days of listening: {report.listeners:,} listeners,"
            f" {report.mixes:,} mixes, {report.songs:,} songs (model version {version})"
        )
        print(f"daily_mixes job:  {job:8.1f} s  (median of {args.rounds})")
        print(f"bare Spark job:   {bare:8.1f} s  (reads the same vectors, writes as many rows)")
        ratio = job / bare
        verdict = "within" if ratio <= TARGET else "over"
        print(f"ratio: {ratio:.2f}x  ({verdict} the {TARGET:.0f}x target)")
