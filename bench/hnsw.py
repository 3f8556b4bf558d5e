"""HNSW: recall@10 and latency of pgvector's index on the ALS item factors, per ef_search.

The item factors come from the project's ALS (rank 64) trained on the large demo world's 90
days of listening; the queries are users' factors, as the home page sends them. Recall is
measured against the exact top 10 (numpy, same float32 vectors); latency against the exact
scan in PostgreSQL for the same queries, the baseline of the same run.

    python -m bench hnsw [--size large] [--queries 500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

import numpy as np
import pandas as pd

from bench.stack import throwaway_stack
from recsys import db
from recsys import model_registry as registry
from recsys.ranking_metrics import top_k
from recsysctl import demo

EF_SEARCH = (10, 20, 40, 64, 100, 200, 400)
K = 10


def train_factors(world, days: int, rank: int):
    """(user ids, user factors, song ids, item factors) of the project's ALS on the world's
    history."""
    from pyspark.sql import functions as F

    from recsys.settings import load_settings
    from spark_jobs import als_training
    from spark_jobs.common import lake
    from spark_jobs.common.session import spark_session

    end = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    events = pd.DataFrame(demo.generate_history(world, end, days=days, seed=7))
    spark = spark_session(
        "bench-hnsw",
        load_settings(),
        **{"spark.driver.memory": "4g", "spark.ui.showConsoleProgress": "false"},
    )
    df = spark.createDataFrame(events).withColumn(
        "date", F.to_date(F.timestamp_millis("timestamp"))
    )
    for name in lake.LAKE_SCHEMA.names:
        if name not in df.columns:
            df = df.withColumn(name, F.lit(None).cast(lake.LAKE_SCHEMA[name].dataType))
    pairs = als_training.feedback(df, 30).cache()
    users = als_training.index_ids(pairs, "user_id", "user")
    items = als_training.index_ids(pairs, "song_id", "item")
    ratings = pairs.join(users, "user_id").join(items, "song_id")
    ratings = ratings.selectExpr("user", "item", "cast(strength as float) as rating").cache()
    params = als_training.AlsParams(rank=rank, reg_param=0.05, alpha=10.0, max_iter=10)
    print(f"training ALS rank {rank} on {ratings.count():,} (user, song) pairs ...", flush=True)
    model = als_training.train_als(ratings, params)
    n_users, n_items = users.count(), items.count()
    user_ids = users.orderBy("user").toPandas()["user_id"].tolist()
    song_ids = items.orderBy("item").toPandas()["song_id"].tolist()
    user_f = als_training.factor_matrix(model.userFactors, n_users, rank)
    item_f = als_training.factor_matrix(model.itemFactors, n_items, rank)
    spark.stop()
    return user_ids, user_f, song_ids, item_f


def query_ids(conn, vector: np.ndarray, ef_search: int | None) -> tuple[list[str], float]:
    literal = "[" + ",".join(map(repr, vector.tolist())) + "]"
    with conn.transaction():
        if ef_search is None:  # the exact scan
            conn.execute("set local enable_indexscan = off")
        else:
            conn.execute(f"set local hnsw.ef_search = {int(ef_search)}")
        began = time.perf_counter()
        rows = conn.execute(
            "select id from model.active_factors where kind = 'item'"
            " order by factors <#> %s::vector limit %s",
            (literal, K),
        ).fetchall()
        elapsed = time.perf_counter() - began
    return [r[0] for r in rows], elapsed


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--rank", type=int, default=64)
    args = parser.parse_args(argv)

    with throwaway_stack(args.size) as (settings, world):
        user_ids, user_f, song_ids, item_f = train_factors(world, args.days, args.rank)
        with db.connect(settings, autocommit=True) as conn:
            version = registry.create_run(
                conn, dt.date(2026, 8, 3), dt.date(2026, 11, 1), dt.date(2026, 10, 25), {}, None
            )
            began = time.perf_counter()
            with conn.transaction():
                registry.write_factors(conn, version, user_ids, user_f, song_ids, item_f)
            build_s = time.perf_counter() - began
            registry.finish_run(conn, version, "passed")
            registry.activate(conn, version, by="bench")

            rng = np.random.default_rng(0)
            queries = user_f[rng.choice(len(user_f), size=args.queries, replace=False)]
            exact = top_k(queries, item_f, K)
            truth = [{song_ids[i] for i in row} for row in exact]
            scan = [query_ids(conn, q, None)[1] for q in queries[:100]]
            scan_ms = statistics.median(scan) * 1000
            print(
                f"\n{len(song_ids):,} item vectors (rank {args.rank}), {len(user_ids):,} users; "
                f"index build with the table: {build_s:.1f} s (m={registry.HNSW_M}, "
                f"ef_construction={registry.HNSW_EF_CONSTRUCTION})"
            )
            print(f"exact scan in PostgreSQL (baseline): p50 {scan_ms:.2f} ms per query\n")
            print(f"{'ef_search':>9}  {'recall@10':>9}  {'p50 ms':>7}  {'p99 ms':>7}  speed-up")
            for ef in EF_SEARCH:
                recalls, times = [], []
                for q, want in zip(queries, truth, strict=True):
                    got, elapsed = query_ids(conn, q, ef)
                    recalls.append(len(want & set(got)) / K)
                    times.append(elapsed * 1000)
                p50 = statistics.median(times)
                p99 = float(np.percentile(times, 99))
                shipped = (
                    "  <- shipped (RECSYS_HNSW_EF_SEARCH)" if ef == settings.hnsw_ef_search else ""
                )
                print(
                    f"{ef:>9}  {np.mean(recalls):9.4f}  {p50:7.2f}  {p99:7.2f}  "
                    f"{scan_ms / p50:6.1f}x{shipped}"
                )
            print("\ntarget: recall@10 >= 0.98 at the shipped ef_search")
