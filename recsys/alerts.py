"""Pipeline alerts: failed tasks recorded in ops.alerts, where operators and the admin page
look, besides the task log. Written by the DAGs' failure callback; read by the admin page.
Every read and write of ops.alerts goes through this module."""

from __future__ import annotations

import logging

from psycopg.rows import dict_row

from recsys import db
from recsys.settings import Settings, load_settings

log = logging.getLogger(__name__)
MAX_MESSAGE = 2000
# A scalar subquery counting the last day's alerts (the /metrics scrape's one query).
LAST_DAY_COUNT_SQL = (
    "(select count(*) from ops.alerts where occurred_at > now() - interval '1 day')"
)


def record_alert(
    settings: Settings,
    dag_id: str,
    message: str,
    task_id: str | None = None,
    run_id: str | None = None,
    try_number: int | None = None,
    log_url: str | None = None,
    severity: str = "error",
) -> int:
    with db.connect(settings) as conn:
        row = conn.execute(
            "insert into ops.alerts (dag_id, task_id, run_id, try_number, severity, message,"
            " log_url) values (%s, %s, %s, %s, %s, %s, %s) returning id",
            (dag_id, task_id, run_id, try_number, severity, message[:MAX_MESSAGE], log_url),
        ).fetchone()
    return row[0]


def recent_alerts(conn, limit: int = 50) -> list[dict]:
    """The newest alerts first, each as a dict of its columns."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select id, occurred_at, dag_id, task_id, run_id, try_number, severity, message,"
            " log_url from ops.alerts order by occurred_at desc, id desc limit %s",
            (limit,),
        ).fetchall()


def on_task_failure(context) -> None:
    """Airflow ``on_failure_callback``: log the failure and record it as an alert.

    Recording must never hide the task's own failure, so its errors are logged, not raised.
    """
    ti = context["ti"]
    error = context.get("exception")
    message = f"{type(error).__name__}: {error}" if error else "task failed"
    log.error(
        "task %s.%s failed (run %s, try %s): %s",
        ti.dag_id,
        ti.task_id,
        ti.run_id,
        ti.try_number,
        message,
    )
    try:
        record_alert(
            load_settings(),
            ti.dag_id,
            message,
            task_id=ti.task_id,
            run_id=ti.run_id,
            try_number=ti.try_number,
            log_url=getattr(ti, "log_url", None),
        )
    except Exception:
        log.exception("could not record the failure in ops.alerts")
