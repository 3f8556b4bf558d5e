"""Admin endpoints: start retraining and re-embedding, follow runs, list and activate model
versions, report the pipeline's status. Changes are ``@admin_required`` and reads
``@operator_allowed`` (webapp.api.auth): an admin token or a JWT with a role, 401 without a
token, 403 with a wrong one or a role that may not.
Starting a run and activating a version are audited, refusals too (recsys.model_admin)."""

from __future__ import annotations

import logging

from flask import current_app, jsonify
from pydantic import BaseModel

from recsys import model_admin
from recsys import model_registry as registry
from recsys.airflow_client import AirflowClient, AirflowError
from webapp.api import api
from webapp.api.audit import actor
from webapp.api.auth import admin_required, operator_allowed
from webapp.api.params import Text, int_param, operation
from webapp.errors import ApiError
from webapp.resources import resources
from webapp.services import admin_status, online_metrics

log = logging.getLogger(__name__)


# Seconds an admin request waits for Airflow's API: the local stack runs Airflow at a lower
# CPU priority (RECSYS_AIRFLOW_NICE), so on a busy machine it answers slowly, not never.
AIRFLOW_TIMEOUT_S = 15


def _airflow() -> AirflowClient:
    return AirflowClient(current_app.config["RECSYS"], timeout_s=AIRFLOW_TIMEOUT_S)


def _airflow_unavailable(err: AirflowError) -> ApiError:
    log.warning("airflow call failed: %s", err)
    return ApiError(503, "airflow_unavailable", f"Airflow could not take the request: {err}")


def _start(action: str):
    try:
        with resources().pool.connection() as conn:
            run = model_admin.start(_airflow(), conn, action, actor())
    except (AirflowError, OSError) as err:
        raise _airflow_unavailable(err) from err
    run["links"] = {"self": f"/api/v1/admin/runs/{run['run_id']}"}
    return jsonify(run), 202


STARTED = (
    "The run id, a link to follow it, and dag_paused (true: the run waits until the DAG is"
    " unpaused in Airflow)."
)


class RunPath(BaseModel):
    run_id: Text


class VersionPath(BaseModel):
    version: int_param(1, 2**63 - 1)


@api.post("/admin/retrain")
@admin_required
@operation("Start an als_training run through Airflow.", answers={202: STARTED})
def retrain():
    return _start("retrain")


@api.post("/admin/embed")
@admin_required
@operation("Start a lyrics_embeddings run through Airflow.", answers={202: STARTED})
def embed():
    return _start("embed")


@api.get("/admin/runs/<run_id>")
@operator_allowed
@operation(
    "Follow a run started by the admin endpoints.",
    path=RunPath,
    answers={
        200: "The run's state, its tasks' states, and dag_paused (true: Airflow runs nothing"
        " of the DAG until it is unpaused).",
        404: "Not a run of the admin endpoints.",
    },
)
def follow_run(run_id: str):
    unknown = ApiError(
        404, "unknown_run", f"no admin run {run_id!r}", [{"field": "run_id", "reason": "unknown"}]
    )
    if model_admin.dag_of(run_id) is None:
        raise unknown
    try:
        with resources().pool.connection() as conn:
            run = model_admin.follow(_airflow(), conn, run_id)
    except AirflowError as err:
        if err.status == 404:
            raise unknown from err
        raise _airflow_unavailable(err) from err
    except OSError as err:
        raise _airflow_unavailable(err) from err
    return jsonify(run)


@api.get("/admin/models")
@operator_allowed
@operation(
    "Model versions with their offline metrics and what listeners did with their answers"
    " (online metrics per surface); which one is served.",
    answers={200: "The versions, newest first."},
)
def list_models():
    with resources().pool.connection() as conn:
        versions = registry.list_versions(conn)
        active = registry.active_version(conn)
        online = online_metrics.by_model(conn)
    return jsonify(
        {
            "active": active,
            "versions": [{**v.as_dict(), "online": online.get(v.version, {})} for v in versions],
            # trending answers, served while no model was
            "online_without_model": online.get(None, {}),
        }
    )


@api.get("/admin/status")
@operator_allowed
@operation(
    "Data freshness, recent DAG runs and alerts, for the admin page.",
    answers={200: "Freshness, runs and alerts."},
)
def pipeline_status():
    with resources().pool.connection() as conn:
        warehouse = admin_status.warehouse(conn)
    # Airflow is asked after the connection is back in the pool: it may take seconds to fail.
    return jsonify({**warehouse, **admin_status.airflow(_airflow())})


@api.post("/admin/models/<version>/activate")
@admin_required
@operation(
    "Serve a gate-passed version (roll back or forward).",
    path=VersionPath,
    answers={
        200: "The version is served.",
        404: "No such version.",
        409: "The version did not pass its gate.",
    },
)
def activate_model(version: int):
    with resources().pool.connection() as conn:
        try:
            model_admin.activate(conn, version, actor())
        except registry.ModelNotFound as err:
            raise ApiError(
                404, "unknown_model", str(err), [{"field": "version", "reason": "unknown"}]
            ) from err
        except registry.NotActivatable as err:
            raise ApiError(
                409, "not_activatable", str(err), [{"field": "version", "reason": "not servable"}]
            ) from err
        current = registry.get_version(conn, version)
    return jsonify({"active": current.version, "model": current.as_dict()})
