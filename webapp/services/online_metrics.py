"""The online metrics of each model version (analytics.online_metrics_by_model, written by
the online_metrics DAG), for the admin page's models table beside the offline NDCG.

Reads analytics.online_metrics_by_model; writes nothing.
"""

from __future__ import annotations

RATES = ("play_rate", "play_through_rate", "skip_rate", "like_rate", "dislike_rate")
BY_MODEL_SQL = f"""
select model_version, surface, first_day, last_day, impressions, plays, completes, skips,
       {", ".join(RATES)}, seconds_per_impression
from analytics.online_metrics_by_model
order by model_version nulls first, surface
"""


def by_model(conn) -> dict[int | None, dict[str, dict]]:
    """{model version (None: answers without a model): {surface: its totals and rates}}."""
    found: dict[int | None, dict[str, dict]] = {}
    for version, surface, first, last, shown, plays, completes, skips, *rest in conn.execute(
        BY_MODEL_SQL
    ):
        *rates, seconds = rest
        found.setdefault(version, {})[surface] = {
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
            "impressions": int(shown),
            "plays": int(plays),
            "completes": int(completes),
            "skips": int(skips),
            **{name: None if r is None else float(r) for name, r in zip(RATES, rates, strict=True)},
            "seconds_per_impression": None if seconds is None else float(seconds),
        }
    return found
