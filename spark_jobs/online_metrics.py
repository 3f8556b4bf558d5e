"""Online metrics for one day D: what listeners did with the recommendations served on D,
per surface, model version and experiment arm.

Reads:  the lake's impressions served from D to the end of the fallback window after it,
        and its events of event days D and D + 1 (the answers of D's last hours are
        played on the next day).
Writes: analytics.online_metrics, D's rows replaced in one PostgreSQL transaction.

Attribution (docs/analysts.md#online-metrics): an event naming a ``rec_id`` belongs to that
answer when the answer showed its song to its listener and the event came at most
RECSYS_ATTRIBUTION_REC_ID_HOURS after it; an event naming no list at all (no ``rec_id``, no
``surface``: a client that does not say) belongs to the listener's latest answer that showed
the song in the RECSYS_ATTRIBUTION_WINDOW_MINUTES before it. An event played from a list
that is not a recommendation (search, trending, a playlist) belongs to none. Each event once,
copies included.

Everything is computed from the lake, never from the time of the run, so a re-run or a
backfill of D gives identical rows (until events of D's answers land late).

    spark-submit spark_jobs/online_metrics.py --day 2026-11-20
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from recsys import db
from recsys.settings import Settings, load_settings
from spark_jobs.common.lake import read_events, read_impressions
from spark_jobs.common.play_stats import is_play, is_progress
from spark_jobs.common.session import spark_session

# The columns a row of analytics.online_metrics is grouped by, besides its day.
GROUP = ("surface", "model_version", "experiment", "experiment_arm")
MEASURES = (
    "impressions", "items_shown", "songs_shown", "attributed_events", "plays", "completes",
    "skips", "likes", "dislikes", "seconds_listened",
)  # fmt: skip
# An event a little before its answer's time is still its answer's (clocks differ).
CLOCK_SKEW_MS = 5 * 60 * 1000
# Events that say something about a shown song (an unlike only takes back a like).
ATTRIBUTED_ACTIONS = ("listen", "skip", "complete", "like", "dislike")


@dataclass(frozen=True)
class Windows:
    """The attribution windows, in milliseconds."""

    rec_id_ms: int
    fallback_ms: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Windows:
        return cls(
            settings.attribution_rec_id_hours * 3_600_000,
            settings.attribution_window_minutes * 60_000,
        )


def _day_ms(day: date) -> int:
    return int(datetime.combine(day, time(), UTC).timestamp() * 1000)


def shown(impressions: DataFrame, first_ms: int, end_ms: int) -> DataFrame:
    """One row per song shown by an answer served in [first_ms, end_ms): the answer's
    fields, ``song_id`` and its ``position``; each answer once."""
    answers = impressions.where(
        (F.col("served_at") >= first_ms) & (F.col("served_at") < end_ms)
    ).dropDuplicates(["rec_id"])
    return answers.select(
        "rec_id", "user_id", *GROUP, "served_at",
        F.explode(F.arrays_zip("song_ids", "positions")).alias("item"),
    ).select(
        "rec_id", "user_id", *GROUP, "served_at",
        F.col("item.song_ids").alias("song_id"), F.col("item.positions").alias("position"),
    )  # fmt: skip


def attribute(items: DataFrame, events: DataFrame, windows: Windows) -> DataFrame:
    """Each event attributed to the answer that caused it (the module's rule): the event's
    columns with the answer's ``rec_id`` as ``attributed_to``; unattributed events are left
    out. ``items``: ``shown``; ``events``: lake rows, copies allowed."""
    events = events.where(F.col("action").isin(*ATTRIBUTED_ACTIONS)).dropDuplicates(["event_id"])
    shown_to = items.select(
        F.col("rec_id").alias("shown_rec_id"),
        F.col("user_id").alias("shown_user_id"),
        F.col("song_id").alias("shown_song_id"),
        "served_at",
    )
    same_song = (F.col("user_id") == F.col("shown_user_id")) & (
        F.col("track_id") == F.col("shown_song_id")
    )
    ts = F.col("timestamp")
    named = (
        events.where(F.col("rec_id").isNotNull())
        .join(shown_to, (F.col("rec_id") == F.col("shown_rec_id")) & same_song)
        .where(
            (ts >= F.col("served_at") - CLOCK_SKEW_MS)
            & (ts <= F.col("served_at") + windows.rec_id_ms)
        )
        .dropDuplicates(["event_id"])  # an answer showing a song twice still gets it once
        .select(*events.columns, F.col("shown_rec_id").alias("attributed_to"))
    )
    latest_first = Window.partitionBy("event_id").orderBy(
        F.col("served_at").desc(), F.col("shown_rec_id").desc()
    )
    unnamed = (
        events.where(F.col("rec_id").isNull() & F.col("surface").isNull())
        .join(shown_to, same_song)
        .where((ts >= F.col("served_at")) & (ts <= F.col("served_at") + windows.fallback_ms))
        .withColumn("latest", F.row_number().over(latest_first))
        .where(F.col("latest") == 1)
        .select(*events.columns, F.col("shown_rec_id").alias("attributed_to"))
    )
    return named.unionByName(unnamed)


def day_metrics(
    spark: SparkSession, lake_uri: str, day: date, windows: Windows, play_min_seconds: int
) -> list[dict]:
    """D's rows of analytics.online_metrics (without ``day`` and ``computed_at``), sorted by
    their group."""
    start = _day_ms(day)
    end = start + 86_400_000
    # answers of the next day's first minutes can be the latest showing of a song for an
    # event of D's answers: read them, attribute, keep D's
    impressions = read_impressions(spark, lake_uri).where(
        F.col("date").between(day, day + timedelta(days=1))
    )
    items = shown(impressions, start, end + windows.fallback_ms).cache()
    events = read_events(spark, lake_uri).where(
        F.col("date").between(day - timedelta(days=1), day + timedelta(days=1))
        & (F.col("timestamp") >= start - CLOCK_SKEW_MS)
        & (F.col("timestamp") <= end + max(windows.rec_id_ms, windows.fallback_ms))
    )
    todays = items.where(F.col("served_at") < end)
    answer_group = (
        todays.select("rec_id", *GROUP)
        .dropDuplicates(["rec_id"])
        .withColumnRenamed("rec_id", "attributed_to")
    )
    served = todays.groupBy(*GROUP).agg(
        F.countDistinct("rec_id").alias("impressions"),
        F.count(F.lit(1)).alias("items_shown"),
        F.countDistinct("song_id").alias("songs_shown"),
    )
    action = F.col("action")
    ended = action.isin("listen", "skip", "complete") & ~is_progress()
    outcomes = (
        attribute(items, events, windows)
        .drop("surface")  # where the event says it came from; the answer's surface counts
        .join(answer_group, "attributed_to")
        .groupBy(*GROUP)
        .agg(
            F.count(F.lit(1)).alias("attributed_events"),
            F.count(F.when(is_play(play_min_seconds), True)).alias("plays"),
            F.count(F.when(action == "complete", True)).alias("completes"),
            F.count(F.when(action == "skip", True)).alias("skips"),
            F.count(F.when(action == "like", True)).alias("likes"),
            F.count(F.when(action == "dislike", True)).alias("dislikes"),
            F.coalesce(F.sum(F.when(ended, F.col("duration"))), F.lit(0)).alias("seconds_listened"),
        )
    )
    # null-safe: a trending answer has no model version, most have no experiment
    on = [F.col(f"s.{c}").eqNullSafe(F.col(f"o.{c}")) for c in GROUP]
    joined = served.alias("s").join(outcomes.alias("o"), on, "left")
    rows = joined.select(
        *[F.col(f"s.{c}").alias(c) for c in GROUP],
        "impressions", "items_shown", "songs_shown",
        *[F.coalesce(F.col(f"o.{m}"), F.lit(0)).alias(m) for m in MEASURES[3:]],
    ).collect()  # fmt: skip
    items.unpersist()
    found = [row.asDict() for row in rows]
    return sorted(found, key=lambda r: tuple("" if r[c] is None else str(r[c]) for c in GROUP))


def replace_day(conn, day: date, rows: list[dict]) -> None:
    """D's rows of analytics.online_metrics replaced by ``rows``, in one transaction."""
    with conn.transaction():
        conn.execute("delete from analytics.online_metrics where day = %s", (day,))
        if rows:
            columns = ("day", *GROUP, *MEASURES)
            with conn.cursor() as cur:
                cur.executemany(
                    f"insert into analytics.online_metrics ({', '.join(columns)}, computed_at)"
                    f" values ({', '.join(['%s'] * len(columns))}, now())",
                    [(day, *(r[c] for c in (*GROUP, *MEASURES))) for r in rows],
                )


def run(spark: SparkSession, settings: Settings, day: date) -> list[dict]:
    """Compute D's online metrics from the lake and replace D's rows; returns them."""
    rows = day_metrics(
        spark, settings.lake_uri, day, Windows.from_settings(settings), settings.play_min_seconds
    )
    with db.connect(settings) as conn:
        replace_day(conn, day, rows)
    return rows


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--day", required=True, type=date.fromisoformat, help="the UTC day (YYYY-MM-DD)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    spark = spark_session("online_metrics", settings)
    rows = run(spark, settings, args.day)
    shown_total = sum(r["impressions"] for r in rows)
    plays = sum(r["plays"] for r in rows)
    print(f"online metrics of {args.day}: {len(rows)} rows, {shown_total} answers, {plays} plays")


if __name__ == "__main__":
    main()
