"""Nightly mixes for mix day D: a few mixes for every listener active in the
RECSYS_MIXES_ACTIVE_DAYS event days ending with D, served from the end of the run.

Reads:  the model version's user and item vectors (``model.als_factors_<v>``: the version
        recorded for D by an earlier build while it is kept, else the active one), the
        catalog (servable songs, artists, genres, images), the lake's events of the
        RECSYS_ALS_WINDOW_DAYS event days ending with D (what each listener heard, liked
        and disliked) and of day D (engagement), listeners' dislikes
        (``catalog.song_feedback``, as of the end of D), the mixes of D - 1.
Writes: mix day D (``mixes.listener_mixes``, ``mixes.runs``, the ``mixes.active_day``
        pointer) in one transaction (recsys.mix_store.write_day); the engagement of D - 1's
        mixes on day D, when they exist (``analytics.mix_engagement``).

Each listener gets up to RECSYS_MIXES_PER_LISTENER mixes of RECSYS_MIXES_SIZE songs: a
daily mix per taste cluster and a discovery mix (spark_jobs.common.mix_builder). The
listeners' mixes are built in Spark tasks, the item vectors broadcast to them. The
engagement of D - 1's mixes is summed per (listener, song) of day D in Spark, then per mix
on the driver.

**Deterministic**: every draw is seeded by (listener, D); the same lake, model version and
catalog give identical mixes, so a re-run or a backfill of D replaces D's rows with the
same rows. A song taken down or disliked since is left out of a rebuild, and out of what
is served at once (the web app filters at read).

    spark-submit spark_jobs/daily_mixes.py --day 2026-11-20 [--run-id ID]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from recsys import db, mix_store
from recsys import model_registry as registry
from recsys.model_registry.exports import version_factors
from recsys.settings import Settings, load_settings
from spark_jobs.common.lake import read_events
from spark_jobs.common.mix_builder import (
    Catalog,
    Taste,
    build_many,
    listener_seed,
    listeners_per_batch,
)
from spark_jobs.common.play_stats import is_play, is_progress
from spark_jobs.common.session import spark_session

FEEDBACK_ACTIONS = ("like", "unlike", "dislike")
PLAYBACK_ACTIONS = ("listen", "skip", "complete")
MIX_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType()),
        T.StructField("position", T.IntegerType()),
        T.StructField("kind", T.StringType()),
        T.StructField("title", T.StringType()),
        T.StructField("cover_urls", T.ArrayType(T.StringType())),
        T.StructField("song_ids", T.ArrayType(T.StringType())),
    ]
)


@dataclass
class MixesReport:
    day: date
    model_version: int | None = None
    listeners: int = 0
    mixes: int = 0
    songs: int = 0
    served: bool = False
    engagement_rows: int = 0
    duration_s: float = 0.0
    # seconds per step: reading vectors and catalog, building (Spark), writing, engagement
    steps: dict = field(default_factory=dict)


def day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), dtime(), UTC)


def listener_tastes(
    events: DataFrame, day: date, active_days: int, play_min_seconds: int
) -> DataFrame:
    """(user_id, song_id, plays, disliked) of every listener with an event in the
    ``active_days`` event days ending with ``day``: each song they played or skipped, or
    said something about, in ``events``; ``disliked`` when their latest like, unlike or
    dislike of it was a dislike.

    One shuffle: the events are partitioned by listener, and every step after (the
    duplicates dropped, the sums per song, who is active) stays within a partition. An
    event id is always the same listener's and song's, so duplicates are dropped per
    (listener, song, event id)."""
    playback = F.col("action").isin(*PLAYBACK_ACTIONS)
    feedback = F.col("action").isin(*FEEDBACK_ACTIONS)
    per_song = (
        events.repartition("user_id")
        .dropDuplicates(["user_id", "track_id", "event_id"])
        .groupBy("user_id", "track_id")
        .agg(
            F.max("date").alias("last_day"),
            F.max(playback).alias("heard"),
            F.sum(F.when(playback, is_play(play_min_seconds).cast("int"))).alias("plays"),
            # the latest word: the action of the greatest (timestamp, event id) among them
            F.max_by("action", F.when(feedback, F.struct("timestamp", "event_id"))).alias("said"),
        )
    )
    listener_last_day = F.max("last_day").over(Window.partitionBy("user_id"))
    return (
        per_song.withColumn("listener_last_day", listener_last_day)
        .where(F.col("listener_last_day") > day - timedelta(days=active_days))
        .where(F.col("heard") | F.col("said").isNotNull())
        .select(
            "user_id",
            F.col("track_id").alias("song_id"),
            F.coalesce("plays", F.lit(0)).alias("plays"),
            F.coalesce(F.col("said") == "dislike", F.lit(False)).alias("disliked"),
        )
    )


def _catalog(conn, item_ids: list[str], vectors: np.ndarray) -> Catalog:
    rows = conn.execute(
        "select s.id, s.artist_id, s.genre, s.image_url, s.taken_down_at is null"
        " from catalog.songs as s where s.id = any(%s)",
        (item_ids,),
    ).fetchall()
    known = {r[0]: r for r in rows}
    artists = {a: n for n, a in enumerate(sorted({r[1] for r in rows}))}
    missing = (None, None, "", None, False)
    meta = [known.get(i, missing) for i in item_ids]
    return Catalog(
        vectors=vectors,
        servable=np.array([m[4] for m in meta], dtype=bool),
        artist=np.array([artists.get(m[1], -1) for m in meta], dtype=np.int64),
        genre=[m[2] for m in meta],
        image_url=[m[3] for m in meta],
    )


def stored_dislikes(conn, day: date) -> pd.DataFrame:
    """Listeners' dislikes in ``catalog.song_feedback`` as of the end of ``day`` (the web
    app keeps each listener's latest word on a song there, as the events arrive)."""
    rows = conn.execute(
        "select user_id, song_id from catalog.song_feedback"
        " where feedback = 'dislike' and at < %s order by user_id, song_id",
        (day_end(day),),
    ).fetchall()
    return pd.DataFrame(rows, columns=["user_id", "song_id"], dtype=object)


def mix_rows(
    spark: SparkSession,
    tastes: DataFrame,
    dislikes: pd.DataFrame,
    user_ids: list[str],
    user_vectors: np.ndarray,
    item_ids: list[str],
    catalog: Catalog,
    day: date,
    mixes: int,
    size: int,
) -> DataFrame:
    """Every active listener's mixes (MIX_SCHEMA), built in Spark tasks from ``tastes``
    (``listener_tastes``), their ``dislikes`` (``stored_dislikes``) and the broadcast
    vectors."""
    items = spark.createDataFrame(
        pd.DataFrame({"song_id": item_ids, "item": np.arange(len(item_ids), dtype=np.int32)})
    )
    songs = F.sort_array(F.collect_list(F.struct("item", "plays", "disliked")))
    per_listener = (
        tastes.join(F.broadcast(items), "song_id")
        .groupBy("user_id")
        .agg(songs.alias("songs"))
        # the songs' fields as arrays in item order: numpy arrays in the tasks
        .select(
            "user_id",
            F.col("songs.item").alias("item"),
            F.col("songs.plays").alias("plays"),
            F.col("songs.disliked").alias("disliked"),
        )
    )
    item_index = dict(zip(item_ids, range(len(item_ids)), strict=True))
    stored: dict[str, list[int]] = {}
    for user_id, song_id in zip(dislikes["user_id"], dislikes["song_id"], strict=True):
        if song_id in item_index:
            stored.setdefault(user_id, []).append(item_index[song_id])
    shared = spark.sparkContext.broadcast(
        (catalog, dict(zip(user_ids, range(len(user_ids)), strict=True)), user_vectors, item_ids,
         stored)
    )  # fmt: skip
    day_text = day.isoformat()

    def build(batches):
        # One BLAS thread per task: Spark already runs a task per core, and OpenBLAS's own
        # threads beside them made a listener's catalog product (20,000 x 64 by 64 x 4)
        # take 61 ms instead of 0.8 ms on the busy 2-core machine. Same results.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            for batch in batches:
                yield build_batch(batch, *shared.value)

    def build_batch(batch, catalog, user_index, user_vectors, item_ids, stored):
        listeners, tastes = [], []
        columns = (batch["user_id"], batch["item"], batch["plays"], batch["disliked"])
        for user_id, item, plays, disliked in zip(*columns, strict=True):
            item = np.asarray(item, dtype=np.int64)
            disliked = np.asarray(disliked, dtype=bool)
            if user_id in stored:  # disliked on the web app: a heard song is no longer liked
                disliked = disliked | np.isin(item, stored[user_id])
                said = np.setdiff1d(stored[user_id], item)
            else:
                said = ()
            row = user_index.get(user_id)
            listeners.append(user_id)
            tastes.append(
                Taste(
                    listener_seed(user_id, day_text),
                    item[~disliked],
                    np.asarray(plays, dtype=np.int64)[~disliked],
                    np.concatenate([item[disliked], np.asarray(said, dtype=np.int64)]),
                    None if row is None else user_vectors[row],
                )
            )
        out = []
        batch_size = listeners_per_batch(len(item_ids), mixes)
        for start in range(0, len(tastes), batch_size):
            chunk = slice(start, start + batch_size)
            built = build_many(tastes[chunk], catalog, mixes, size)
            for user_id, listener_mixes in zip(listeners[chunk], built, strict=True):
                for position, mix in enumerate(listener_mixes, start=1):
                    out.append(
                        (user_id, position, mix.kind, mix.title, mix.cover_urls,
                         [item_ids[i] for i in mix.items])
                    )  # fmt: skip
        return pd.DataFrame(out, columns=MIX_SCHEMA.fieldNames())

    return per_listener.mapInPandas(build, MIX_SCHEMA)


ENGAGEMENT_TOTALS = ("plays", "completes", "skips", "plays_from_mix", "skips_from_mix", "seconds")


def engagement(
    spark: SparkSession, events: DataFrame, mixes: list[tuple], play_min_seconds: int
) -> list[tuple]:
    """Per mix of ``mixes`` (user_id, position, kind, song_ids): what its listener did with
    its songs in ``events`` (one event day), as analytics.mix_engagement's columns.

    Spark sums the day's playback per (listener, song) (one day: a small table, collected);
    each mix's distinct songs are then looked up in it and summed on the driver, in numpy.
    """
    mixes = [m for m in mixes if m[3]]
    if not mixes:
        return []
    play, from_mix = is_play(play_min_seconds), F.col("surface") == "mix"
    skip = F.col("action") == "skip"
    ended = F.col("action").isin(*PLAYBACK_ACTIONS) & ~is_progress()
    listeners = spark.createDataFrame(
        pd.DataFrame({"user_id": sorted({m[0] for m in mixes})}), "user_id string"
    )
    totals = (
        events.where(F.col("action").isin(*PLAYBACK_ACTIONS))
        .join(F.broadcast(listeners), "user_id", "left_semi")
        .dropDuplicates(["event_id"])
        .groupBy("user_id", "track_id")
        .agg(
            *[
                F.coalesce(F.sum(c), F.lit(0)).alias(name)
                for c, name in (
                    (play.cast("int"), "plays"),
                    ((F.col("action") == "complete").cast("int"), "completes"),
                    (skip.cast("int"), "skips"),
                    ((play & from_mix).cast("int"), "plays_from_mix"),
                    ((skip & from_mix).cast("int"), "skips_from_mix"),
                    (F.when(ended, F.col("duration").cast("long")), "seconds"),
                )
            ]
        )
        .toArrow()
    )
    # a row per (listener, song) with events, then a zero row for every other mix song
    index = {
        pair: n
        for n, pair in enumerate(
            zip(totals.column("user_id").to_pylist(), totals.column("track_id").to_pylist(),
                strict=True)
        )
    }  # fmt: skip
    values = np.zeros((totals.num_rows + 1, len(ENGAGEMENT_TOTALS)), dtype=np.int64)
    for j, name in enumerate(ENGAGEMENT_TOTALS):
        values[:-1, j] = totals.column(name).to_numpy()
    missing = totals.num_rows
    lookups, starts = [], []
    for user_id, _, _, songs in mixes:
        starts.append(len(lookups))
        lookups += [index.get((user_id, song), missing) for song in dict.fromkeys(songs)]
    per_song = values[np.array(lookups, dtype=np.int64)]
    starts = np.array(starts, dtype=np.int64)
    sums = np.add.reduceat(per_song, starts, axis=0)
    played = np.add.reduceat((per_song[:, 0] > 0).astype(np.int64), starts)
    rows = [
        (user_id, position, kind, len(songs), int(p), *(int(x) for x in s))
        for (user_id, position, kind, songs), p, s in zip(mixes, played, sums, strict=True)
    ]
    return sorted(rows, key=lambda r: (r[0], r[1]))


def model_version_for(conn, day: date) -> int | None:
    """The version D was built from while its vectors are kept (a re-run or backfill gives
    the same mixes), else the served one."""
    built = mix_store.run_of_day(conn, day)
    if built is not None:
        kept = conn.execute(
            "select to_regclass(%s) is not null", (f"model.als_factors_{built.model_version}",)
        ).fetchone()[0]
        if kept:
            return built.model_version
    return registry.active_version(conn)


def run(
    spark: SparkSession, settings: Settings, day: date, dag_run_id: str | None = None
) -> MixesReport:
    """Build and serve mix day ``day``; record the engagement of the day before's mixes."""
    began = time.monotonic()
    report = MixesReport(day)
    if not 25 <= settings.mixes_size <= 50:
        raise ValueError(f"RECSYS_MIXES_SIZE={settings.mixes_size}: a mix holds 25 to 50 songs")
    if settings.mixes_per_listener < 1:
        raise ValueError("RECSYS_MIXES_PER_LISTENER must be at least 1")
    lake = read_events(spark, settings.lake_uri)
    with db.connect(settings) as conn:
        version = model_version_for(conn, day)
        if version is None:
            print(f"no model is served: no mixes for {day}")
            return report
        report.model_version = version
        user_ids, user_vectors = version_factors(conn, version, "user")
        item_ids, item_vectors = version_factors(conn, version, "item")
        catalog = _catalog(conn, item_ids, item_vectors)
        dislikes = stored_dislikes(conn, day)
        conn.commit()
    report.steps["read_s"] = round(time.monotonic() - began, 3)
    window = lake.where(
        F.col("date").between(day - timedelta(days=settings.als_window_days - 1), day)
    )
    tastes = listener_tastes(window, day, settings.mixes_active_days, settings.play_min_seconds)
    built = mix_rows(
        spark, tastes, dislikes, user_ids, user_vectors, item_ids, catalog, day,
        settings.mixes_per_listener, settings.mixes_size,
    ).toArrow()  # fmt: skip
    columns = [built.column(c).to_pylist() for c in MIX_SCHEMA.fieldNames()]
    rows = sorted(zip(*columns, strict=True), key=lambda r: (r[0], r[1]))
    report.steps["build_s"] = round(time.monotonic() - began - sum(report.steps.values()), 3)
    with db.connect(settings) as conn:
        report.served = mix_store.write_day(
            conn, day, version, rows, settings.mixes_days_kept, dag_run_id
        )
        previous = mix_store.mixes_of_day(conn, day - timedelta(days=1))
        conn.commit()
    report.listeners = len({r[0] for r in rows})
    report.mixes, report.songs = len(rows), sum(len(r[5]) for r in rows)
    report.steps["write_s"] = round(time.monotonic() - began - sum(report.steps.values()), 3)
    if previous:
        events = lake.where(F.col("date") == day)
        measured = engagement(spark, events, previous, settings.play_min_seconds)
        with db.connect(settings) as conn:
            mix_store.replace_engagement(conn, day - timedelta(days=1), measured)
        report.engagement_rows = len(measured)
    report.steps["engagement_s"] = round(time.monotonic() - began - sum(report.steps.values()), 3)
    report.duration_s = round(time.monotonic() - began, 3)
    return report


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--day", required=True, type=date.fromisoformat, help="the mix day (YYYY-MM-DD)"
    )
    parser.add_argument("--run-id", default=None, help="the Airflow run that builds it")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    spark = spark_session("daily_mixes", settings)
    print(run(spark, settings, args.day, args.run_id))


if __name__ == "__main__":
    main()
