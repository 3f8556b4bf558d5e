"""``GET /metrics``: the Prometheus text of the web app's metrics (webapp/metrics.py), summed
over gunicorn's workers, and the pipeline's key numbers read from the warehouse at each scrape.

Under gunicorn every worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``
(set by recsysctl/stack/webapp.py and the compose file) and a scrape of any worker adds them
up; without that variable (tests, ``flask run``) the process's own registry is served.

The pipeline's numbers come from the tables its DAGs write (analytics.counter_runs,
analytics.resync_runs, model.embedding_runs, model.als_runs, ops.alerts), so they are the
same whichever worker is scraped, and no DAG needs a metrics agent of its own; so do the
online metrics of the newest day computed (analytics.online_metrics), one sample per surface,
model version and experiment arm.
"""

from __future__ import annotations

import logging
import os

from flask import Blueprint, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from recsys import alerts
from recsys import model_registry as registry
from recsys.model_registry import embeddings
from webapp.resources import resources

log = logging.getLogger(__name__)

metrics = Blueprint("metrics", __name__)

# One statement per scrape; the model's and the alerts' parts come from their owners.
PIPELINE_SQL = f"""
select
  (select extract(epoch from interval_end) from analytics.counter_runs
    order by interval_end desc limit 1),
  (select events from analytics.counter_runs order by interval_end desc limit 1),
  (select extract(epoch from computed_at) from analytics.resync_runs
    order by computed_at desc limit 1),
  (select events_corrected from analytics.resync_runs order by computed_at desc limit 1),
  {embeddings.LAST_SUCCESS_SQL},
  {embeddings.SONGS_EMBEDDED_SQL},
  {registry.ACTIVE_VERSION_SQL},
  {registry.ACTIVE_NDCG_SQL},
  {alerts.LAST_DAY_COUNT_SQL}
"""

PIPELINE_GAUGES = (
    ("recsys_counters_interval_end_seconds", "End (unix time) of the newest counted interval."),
    ("recsys_counters_interval_events", "Events counted in the newest play_counters interval."),
    ("recsys_resync_computed_seconds", "When (unix time) the newest trending resync ran."),
    ("recsys_resync_events_corrected", "Events the newest resync corrected in the counters."),
    ("recsys_embeddings_finished_seconds", "When (unix time) the newest embedding run ended."),
    ("recsys_embeddings_songs", "Songs with a lyrics embedding."),
    ("recsys_model_active_version", "Version of the ALS model being served."),
    ("recsys_model_active_ndcg", "Holdout NDCG of the ALS model being served."),
    ("recsys_alerts_last_day", "Task failures recorded in ops.alerts over the last 24 hours."),
)

# The newest day of analytics.online_metrics: its rows, summed per label set.
ONLINE_SQL = """
select surface, coalesce(model_version::text, 'none'), coalesce(experiment, ''),
       coalesce(experiment_arm, ''), extract(epoch from day::timestamp),
       sum(impressions), sum(plays), sum(completes), sum(skips), sum(likes), sum(dislikes),
       sum(items_shown)
from analytics.online_metrics
where day = (select max(day) from analytics.online_metrics)
group by 1, 2, 3, 4, 5
order by 1, 2, 3, 4
"""
ONLINE_LABELS = ["surface", "model_version", "experiment", "arm"]


def online_gauges(rows) -> list[GaugeMetricFamily]:
    """The newest day's online metrics as gauges (absent until the DAG has run once)."""
    day = GaugeMetricFamily(
        "recsys_online_metrics_day_seconds", "The day (unix time) the online metrics are of."
    )
    families = {
        "impressions": GaugeMetricFamily(
            "recsys_online_impressions", "Answers served that day.", labels=ONLINE_LABELS
        ),
        "plays": GaugeMetricFamily(
            "recsys_online_plays", "Plays attributed to that day's answers.", labels=ONLINE_LABELS
        ),
        "play_rate": GaugeMetricFamily(
            "recsys_online_play_rate", "Attributed plays per song shown.", labels=ONLINE_LABELS
        ),
        "play_through": GaugeMetricFamily(
            "recsys_online_play_through_rate",
            "Attributed playbacks heard to the end, of those that ended.",
            labels=ONLINE_LABELS,
        ),
        "skip": GaugeMetricFamily(
            "recsys_online_skip_rate",
            "Attributed playbacks skipped, of those that ended.",
            labels=ONLINE_LABELS,
        ),
        "like": GaugeMetricFamily(
            "recsys_online_like_rate", "Attributed likes per song shown.", labels=ONLINE_LABELS
        ),
        "dislike": GaugeMetricFamily(
            "recsys_online_dislike_rate",
            "Attributed dislikes per song shown.",
            labels=ONLINE_LABELS,
        ),
    }
    for surface, version, experiment, arm, epoch, *counts in rows:
        shown, plays, done, skips, likes, dislikes, items = counts
        labels = [surface, version, experiment, arm]
        day_value = float(epoch)
        families["impressions"].add_metric(labels, float(shown))
        families["plays"].add_metric(labels, float(plays))
        if items:
            families["play_rate"].add_metric(labels, plays / items)
            families["like"].add_metric(labels, likes / items)
            families["dislike"].add_metric(labels, dislikes / items)
        if done + skips:
            families["play_through"].add_metric(labels, done / (done + skips))
            families["skip"].add_metric(labels, skips / (done + skips))
    if not rows:
        return []
    day.add_metric([], day_value)
    return [day, *families.values()]


class PipelineCollector:
    """The DAGs' key numbers, read in one query per scrape; a gauge is absent while its job
    has never run. ``recsys_pipeline_up`` is 0 when the warehouse cannot be read."""

    def __init__(self, pool_getter):
        self._pool = pool_getter

    def collect(self):
        up = GaugeMetricFamily("recsys_pipeline_up", "1 if the warehouse could be read.")
        try:
            with self._pool().connection(timeout=2) as conn:
                values = conn.execute(PIPELINE_SQL).fetchone()
                online = conn.execute(ONLINE_SQL).fetchall()
        except Exception as err:  # a scrape never fails: it reports the warehouse down
            log.warning("pipeline metrics unavailable: %s", err)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for (name, doc), value in zip(PIPELINE_GAUGES, values, strict=True):
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=float(value))
        yield from online_gauges(online)


class _ProcessRegistry:
    """This process's own metrics (no multiprocess directory), inside a scrape's registry."""

    def collect(self):
        return REGISTRY.collect()


def scrape_registry(pool_getter) -> CollectorRegistry:
    """What a scrape reads (``resources().metrics_registry``, built once per process): the
    app's samples, every worker's summed under gunicorn, and the pipeline's numbers."""
    registry = CollectorRegistry()
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.MultiProcessCollector(registry)  # every worker's samples, summed
    else:
        registry.register(_ProcessRegistry())
    registry.register(PipelineCollector(pool_getter))
    return registry


@metrics.get("/metrics")
def scrape():
    return Response(generate_latest(resources().metrics_registry), mimetype=CONTENT_TYPE_LATEST)
