"""What an admin can do to the models, shared by the admin API and the CLI: start a training
or embedding run through Airflow, follow it, list model versions, activate one.

Starting a run and activating a version are audited (recsys.audit, ops.audit_log). An
activation and its row commit in one transaction. A run is started outside the database, so
its row is written in a transaction held open around the trigger and committed once Airflow
took the run (target: the run id); a trigger Airflow refused or never answered is recorded
with the error's kind. The one gap, a database that fails between the trigger and the
commit, leaves a run without its row: the run's Airflow note still names who asked.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from recsys import model_registry as registry
from recsys.airflow_client import AirflowClient, AirflowError
from recsys.audit import Actor, audited
from recsys.model_registry import embeddings

# action -> the DAG it runs on demand
ON_DEMAND = {"retrain": "als_training", "embed": "lyrics_embeddings"}
_RUN_ID = re.compile(r"^admin__(?P<dag>[a-z_]+)__\d{8}T\d{6}__[0-9a-f]{6}$")


def start(client: AirflowClient, conn, action: str, actor: Actor, conf: dict | None = None) -> dict:
    """Trigger the DAG of ``action`` now, with the DAG params in ``conf``, and record it as
    ``model.<action>`` on the run id (``conn`` outside a transaction); the run id names the
    DAG, so it alone follows it. ``dag_paused`` says the run waits: Airflow runs nothing of a
    paused DAG until it is unpaused."""
    dag_id = ON_DEMAND[action]
    run_id = f"admin__{dag_id}__{datetime.now(UTC):%Y%m%dT%H%M%S}__{secrets.token_hex(3)}"
    details = {"dag_id": dag_id, **({"conf": conf} if conf else {})}
    with audited(conn, actor, f"model.{action}", run_id, details):
        note = f"{action} requested by {actor.name}"
        client.trigger(dag_id, conf=conf, run_id=run_id, note=note)
    return {
        "run_id": run_id,
        "dag_id": dag_id,
        "state": "queued",
        "dag_paused": _paused(client, dag_id),
    }


def activate(conn, version: int, actor: Actor) -> None:
    """Serve ``version`` (registry.activate) and record it as ``model.activate``, in one
    transaction; a refused one (ModelNotFound, NotActivatable) is recorded as such."""
    with audited(conn, actor, "model.activate", version) as attempt:
        attempt.details["previous"] = registry.active_version(conn)
        registry.activate(conn, version, by=actor.name)


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
