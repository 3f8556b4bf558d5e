"""Admin endpoints of experiments: start one on a surface, list them, read one with each
arm's results against the control, stop one. Starting and stopping are
``@admin_required``, reading ``@operator_allowed`` (webapp.api.auth); the rules are
recsys.experiment_store's, the serving docs/serving.md's.
Starting and stopping are audited with the experiment's name, refusals too (recsys.audit).
"""

from __future__ import annotations

from typing import Annotated

from flask import g, jsonify
from pydantic import BaseModel, Field, StrictBool, StrictInt, ValidationError

from recsys import experiment_store as store
from recsys.events import field_errors
from recsys.experiments import Arm
from webapp.api import api
from webapp.api.audit import actor
from webapp.api.auth import admin_required, operator_allowed
from webapp.api.params import Body, Text, operation
from webapp.errors import ApiError, not_found
from webapp.resources import resources

MAX_ARMS = 10


class ArmBody(Body):
    name: Text = Field(description="Unique in the experiment, at most 40 characters.")
    share: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = Field(
        description="Fraction of the listeners in this arm; the shares sum to 1."
    )
    model_version: StrictInt | None = Field(
        None, description="Serve this model version instead of the active one (home only)."
    )
    blend: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = Field(
        None, description="The blend weight: home, long-term; up_next, ALS."
    )
    random: StrictBool = Field(False, description="Serve random servable songs (a poor arm).")


class StartBody(Body):
    name: Text = Field(description="The experiment's id: letters, digits, '.', '_', '-'.")
    surface: Text = Field(description="home or up_next.")
    arms: Annotated[list[ArmBody], Field(max_length=MAX_ARMS)] = Field(
        description="The first arm is the control and must be plain (no model_version,"
        " blend or random)."
    )
    notes: Text | None = None


class NamePath(BaseModel):
    name: Text


def _field(loc: tuple) -> str:
    """pydantic's location as the client wrote it: ``arms[1].blend``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or "body"


def _invalid(problems: list[tuple[str, str]]) -> ApiError:
    return ApiError(
        400,
        "invalid_experiment",
        "; ".join(f"{field}: {reason}" for field, reason in problems),
        [{"field": field, "reason": reason} for field, reason in problems],
    )


def _start_body(raw) -> StartBody:
    try:
        return StartBody.model_validate(raw)
    except ValidationError as err:
        reasons = field_errors(err, "body")  # the project's wording, one per error, in order
        locations = [e["loc"] for e in err.errors(include_url=False, include_input=False)]
        raise _invalid(
            [(_field(loc), r.reason) for loc, r in zip(locations, reasons, strict=True)]
        ) from None


def _by() -> str:
    """Who started or stopped it, as the experiment itself records it."""
    return f"admin API ({g.admin})"


def _conflict(err: store.ExperimentConflict) -> ApiError:
    return ApiError(
        409, "experiment_conflict", str(err), [{"field": err.field, "reason": str(err)}]
    )


@api.post("/admin/experiments")
@admin_required
@operation(
    "Start an experiment on a surface: each listener is served by one arm, always the same.",
    body=StartBody,
    check_body=False,
    answers={
        201: "The experiment, running (serving sees it within RECSYS_EXPERIMENTS_CACHE_S).",
        400: "A field is wrong (named), or an arm's model version cannot be served.",
        409: "The name is taken, or the surface runs another experiment.",
    },
)
def start_experiment(body):
    start = _start_body(body)
    arms = [Arm(a.name, a.share, a.model_version, a.blend, a.random) for a in start.arms]
    with resources().pool.connection() as conn:
        try:
            experiment = store.start(
                conn, start.name, start.surface, arms, _by(), start.notes, audit_as=actor()
            )
        except store.InvalidExperiment as err:
            raise _invalid(err.problems) from None
        except store.ExperimentConflict as err:
            raise _conflict(err) from None
    return jsonify(experiment.as_dict()), 201


@api.get("/admin/experiments")
@operator_allowed
@operation(
    "Experiments, the running ones first, then the newest.",
    answers={200: "The experiments' definitions."},
)
def list_experiments():
    with resources().pool.connection() as conn:
        experiments = store.list_experiments(conn)
    return jsonify({"experiments": [e.as_dict() for e in experiments]})


@api.get("/admin/experiments/<name>")
@operator_allowed
@operation(
    "An experiment with each arm's results: totals and rates from analytics.online_metrics,"
    " and each arm's lift over the control with its 95% interval and verdict.",
    path=NamePath,
    answers={200: "The experiment and its arms' results.", 404: "No such experiment."},
    description="Verdicts: better, worse, not yet significant, not enough data (fewer than 30"
    " trials on a side). Play-through and play rates: higher is better; skip rate: lower.",
)
def show_experiment(name: str):
    with resources().pool.connection() as conn:
        try:
            return jsonify(store.results(conn, name))
        except store.UnknownExperiment:
            raise not_found("experiment", "name", name) from None


@api.post("/admin/experiments/<name>/stop")
@admin_required
@operation(
    "Stop an experiment: its listeners are served as the control arm was.",
    path=NamePath,
    answers={
        200: "The experiment, stopped (serving sees it within RECSYS_EXPERIMENTS_CACHE_S).",
        404: "No such experiment.",
        409: "It was stopped already.",
    },
)
def stop_experiment(name: str):
    with resources().pool.connection() as conn:
        try:
            experiment = store.stop(conn, name, _by(), audit_as=actor())
        except store.UnknownExperiment:
            raise not_found("experiment", "name", name) from None
        except store.ExperimentConflict as err:
            raise _conflict(err) from None
    return jsonify(experiment.as_dict())
