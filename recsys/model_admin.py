"""What an admin can do to the models, shared by the admin API and the CLI: start a training
or embedding run through Airflow, follow it, list model versions, activate one."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from recsys import model_registry as registry
from recsys.airflow_client import AirflowClient, AirflowError
from recsys.model_registry import embeddings

# action -> the DAG it runs on demand
ON_DEMAND = {"retrain": "als_training", "embed": "lyrics_embeddings"}
_RUN_ID = re.compile(r"^admin__(?P<dag>[a-z_]+)__\d{8}T\d{6}__[0-9a-f]{6}$")


def start(client: AirflowClient, action: str, by: str, conf: dict | None = None) -> dict:
    """Trigger the DAG of ``action`` now, with the DAG params in ``conf``; the run id names
    the DAG, so it alone follows it. ``dag_paused`` says the run waits: Airflow runs nothing
    of a paused DAG until it is unpaused."""
    dag_id = ON_DEMAND[action]
    run_id = f"admin__{dag_id}__{datetime.now(UTC):%Y%m%dT%H%M%S}__{secrets.token_hex(3)}"
    client.trigger(dag_id, conf=conf, run_id=run_id, note=f"{action} requested by {by}")
    return {
        "run_id": run_id,
        "dag_id": dag_id,
        "state": "queued",
        "dag_paused": _paused(client, dag_id),
    }


def _paused(client: AirflowClient, dag_id: str) -> bool | None:
    """Whether the DAG is paused; None when Airflow did not say (the run exists either way)."""
    try:
        return client.is_paused(dag_id)
    except (AirflowError, OSError):
        return None


def dag_of(run_id: str) -> str | None:
    """The DAG an admin run id belongs to, or None when it is not one of ours."""
    match = _RUN_ID.match(run_id)
    if match and match["dag"] in ON_DEMAND.values():
        return match["dag"]
    return None


def follow(client: AirflowClient, conn, run_id: str, dag_id: str | None = None) -> dict | None:
    """The run's state and its tasks' states; for a training run, the model it recorded.
    ``dag_id`` is needed only for a run the scheduler started: an admin run id names its DAG.
    """
    dag_id = dag_id or dag_of(run_id)
    if dag_id is None:
        return None
    run = client.run_state(dag_id, run_id)
    result = {
        "run_id": run_id,
        "dag_id": dag_id,
        "state": run.get("state"),
        "queued_at": run.get("queued_at"),
        "start_date": run.get("start_date"),
        "end_date": run.get("end_date"),
        "tasks": client.task_states(dag_id, run_id),
        "dag_paused": _paused(client, dag_id),
    }
    if dag_id == "als_training":
        run = registry.run_of_dag_run(conn, run_id)
        result["model"] = registry.get_version(conn, run["version"]).as_dict() if run else None
    else:
        result["embedding"] = embeddings.run_of_dag_run(conn, run_id)
    return result
