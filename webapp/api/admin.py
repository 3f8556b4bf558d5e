"""Admin endpoints: start retraining and re-embedding, follow runs, list and activate model
versions, report the pipeline's status. Every one needs ``Authorization: Bearer
<RECSYS_ADMIN_TOKEN>``: 401 without a token, 403 with a wrong one."""

from __future__ import annotations

import hmac
import logging

from flask import current_app, g, jsonify, request

from recsys import model_admin
from recsys import model_registry as registry
from recsys.airflow_client import AirflowClient, AirflowError
from webapp.api import api
from webapp.errors import ApiError
from webapp.resources import resources
from webapp.services import admin_status

log = logging.getLogger(__name__)


@api.before_request
def _require_admin_token():
    if not request.path.startswith("/api/v1/admin/"):
        return
    expected = current_app.config["RECSYS"].admin_token
    if not expected:
        raise ApiError(503, "admin_disabled", "no admin token is configured on the server")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "unauthorized",
            "admin endpoints need the header Authorization: Bearer <admin token>",
            [{"field": "Authorization", "reason": "missing bearer token"}],
        )
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(
            403,
            "forbidden",
            "the admin token is wrong",
            [{"field": "Authorization", "reason": "wrong token"}],
        )
    g.admin = request.remote_addr or "admin"


def _airflow() -> AirflowClient:
    return AirflowClient(current_app.config["RECSYS"], timeout_s=5)


def _airflow_unavailable(err: AirflowError) -> ApiError:
    log.warning("airflow call failed: %s", err)
    return ApiError(503, "airflow_unavailable", f"Airflow could not take the request: {err}")


def _start(action: str):
    try:
        run = model_admin.start(_airflow(), action, by=f"admin API ({g.admin})")
    except (AirflowError, OSError) as err:
        raise _airflow_unavailable(err) from err
    run["links"] = {"self": f"/api/v1/admin/runs/{run['run_id']}"}
    return jsonify(run), 202


@api.post("/admin/retrain")
def retrain():
    return _start("retrain")


@api.post("/admin/embed")
def embed():
    return _start("embed")


@api.get("/admin/runs/<run_id>")
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
def list_models():
    with resources().pool.connection() as conn:
        versions = registry.list_versions(conn)
        active = registry.active_version(conn)
    return jsonify({"active": active, "versions": [v.as_dict() for v in versions]})


@api.get("/admin/status")
def pipeline_status():
    with resources().pool.connection() as conn:
        warehouse = admin_status.warehouse(conn)
    # Airflow is asked after the connection is back in the pool: it may take seconds to fail.
    return jsonify({**warehouse, **admin_status.airflow(_airflow())})


@api.post("/admin/models/<version>/activate")
def activate_model(version: str):
    if not version.isdigit():
        raise ApiError(
            400,
            "invalid_parameter",
            "version must be a model version number",
            [{"field": "version", "reason": "not a number"}],
        )
    with resources().pool.connection() as conn:
        try:
            registry.activate(conn, int(version), by=f"admin API ({g.admin})")
        except registry.ModelNotFound as err:
            raise ApiError(
                404, "unknown_model", str(err), [{"field": "version", "reason": "unknown"}]
            ) from err
        except registry.NotActivatable as err:
            raise ApiError(
                409, "not_activatable", str(err), [{"field": "version", "reason": "not servable"}]
            ) from err
        current = registry.get_version(conn, int(version))
    return jsonify({"active": current.version, "model": current.as_dict()})
