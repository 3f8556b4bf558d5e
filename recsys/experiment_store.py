"""Experiments in PostgreSQL (``ops.experiments``): start, list, read, stop, and each arm's
results from ``analytics.online_metrics`` against the control.

Every function takes a psycopg connection; writes run in their own transaction. Starting
checks the definition (recsys.experiments.definition_problems) and each arm's model version
through the registry: it must exist and be servable (passed, vectors kept). The check holds
the registry's row-share lock, so a concurrent ``prune`` either ran before (the version is
refused) or sees the experiment (and keeps the version).

Starting and stopping with ``audit_as`` (the admin API and the CLI) record the action in
ops.audit_log (recsys.audit) in the same transaction; a refusal is recorded with its kind.

Reads ops.experiments, model.als_runs and analytics.online_metrics; writes ops.experiments
and ops.audit_log.

>>> from recsys.experiments import Arm
>>> arms = [Arm("control", 0.5), Arm("low_blend", 0.5, blend=0.5)]
>>> # experiment = start(conn, "blend-test", "home", arms, started_by="cli")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
import psycopg

from recsys import model_registry as registry
from recsys.audit import Actor, audited
from recsys.experiments import Arm, Lift, definition_problems, rate_lift, verdict


class InvalidExperiment(ValueError):
    """The definition cannot run; ``problems`` are ``(field, reason)``."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in problems))
        self.problems = problems


class ExperimentConflict(RuntimeError):
    """The name is taken, the surface runs another experiment, or it is already stopped;
    ``field`` names what conflicts."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class UnknownExperiment(LookupError):
    pass


@dataclass(frozen=True)
class Experiment:
    name: str
    surface: str
    arms: tuple[Arm, ...]
    status: str
    started_at: datetime
    started_by: str
    stopped_at: datetime | None
    stopped_by: str | None
    notes: str | None

    @property
    def control(self) -> Arm:
        return self.arms[0]

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "surface": self.surface,
            "arms": [arm.as_dict() for arm in self.arms],
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "started_by": self.started_by,
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "stopped_by": self.stopped_by,
            "notes": self.notes,
        }


COLUMNS = "name, surface, arms, status, started_at, started_by, stopped_at, stopped_by, notes"
# Uniqueness violations of ops.experiments, by constraint, as the field that conflicts.
_CONFLICTS = {"experiments_pkey": "name", "experiments_one_running_per_surface": "surface"}


def _experiment(row) -> Experiment:
    name, surface, arms, *rest = row
    return Experiment(name, surface, tuple(Arm.from_dict(a) for a in arms), *rest)


def _model_version_problems(conn, arms: Sequence[Arm]) -> list[tuple[str, str]]:
    problems = []
    for i, arm in enumerate(arms):
        if arm.model_version is None:
            continue
        try:
            status = registry.get_version(conn, arm.model_version).status
        except registry.ModelNotFound:
            problems.append((f"arms[{i}].model_version", f"no model version {arm.model_version}"))
            continue
        if status != "passed":
            problems.append(
                (f"arms[{i}].model_version", f"model version {arm.model_version} is {status};"
                 " only versions that passed the gate and were not pruned can be served")
            )  # fmt: skip
    return problems


def start(
    conn,
    name: str,
    surface: str,
    arms: Sequence[Arm],
    started_by: str,
    notes: str | None = None,
    *,
    audit_as: Actor | None = None,
) -> Experiment:
    """Start an experiment on ``surface``; serving picks it up within
    ``RECSYS_EXPERIMENTS_CACHE_S``. With ``audit_as``, recorded as ``experiment.start``
    (``conn`` outside a transaction).

    Raises
    ------
    InvalidExperiment
        The definition or a model version cannot be served.
    ExperimentConflict
        The name is taken (field ``name``) or the surface runs one (field ``surface``).
    """
    if audit_as is None:
        return _start(conn, name, surface, arms, started_by, notes)
    details = {"surface": surface, "arms": [arm.as_dict() for arm in arms]}
    with audited(conn, audit_as, "experiment.start", name, details):
        return _start(conn, name, surface, arms, started_by, notes)


def _start(conn, name, surface, arms, started_by, notes) -> Experiment:
    problems = definition_problems(name, surface, arms)
    if problems:
        raise InvalidExperiment(problems)
    try:
        with conn.transaction():
            registry.hold_active_model(conn)  # a prune waits, or has already run
            problems = _model_version_problems(conn, arms)
            if problems:
                raise InvalidExperiment(problems)
            row = conn.execute(
                f"insert into ops.experiments (name, surface, arms, started_by, notes)"
                f" values (%s, %s, %s, %s, %s) returning {COLUMNS}",
                (name, surface, _arms_json(arms), started_by, notes),
            ).fetchone()
    except psycopg.errors.UniqueViolation as err:
        field = _CONFLICTS.get(err.diag.constraint_name, "name")
        if field == "surface":
            running = running_for_surface(conn, surface)
            held = f"experiment {running.name!r}" if running else "another experiment"
            message = f"surface {surface!r} already runs {held}; stop it first"
        else:
            message = f"an experiment named {name!r} exists already (names are never reused)"
        raise ExperimentConflict(message, field) from None
    return _experiment(row)


def _arms_json(arms: Sequence[Arm]) -> str:
    return orjson.dumps([arm.as_dict() for arm in arms]).decode()


def list_experiments(conn, limit: int = 100) -> list[Experiment]:
    """Running experiments first, then the rest, newest first."""
    rows = conn.execute(
        f"select {COLUMNS} from ops.experiments"
        " order by status = 'running' desc, started_at desc, name limit %s",
        (limit,),
    ).fetchall()
    return [_experiment(row) for row in rows]


def get(conn, name: str) -> Experiment:
    row = conn.execute(f"select {COLUMNS} from ops.experiments where name = %s", (name,)).fetchone()
    if row is None:
        raise UnknownExperiment(f"no experiment {name!r}")
    return _experiment(row)


def stop(conn, name: str, stopped_by: str, *, audit_as: Actor | None = None) -> Experiment:
    """Stop a running experiment: its listeners are served as the control was. With
    ``audit_as``, recorded as ``experiment.stop`` (``conn`` outside a transaction).

    Raises UnknownExperiment, or ExperimentConflict (field ``name``) when already stopped.
    """
    if audit_as is None:
        return _stop(conn, name, stopped_by)
    with audited(conn, audit_as, "experiment.stop", name):
        return _stop(conn, name, stopped_by)


def _stop(conn, name: str, stopped_by: str) -> Experiment:
    with conn.transaction():
        row = conn.execute(
            "update ops.experiments set status = 'stopped', stopped_at = now(), stopped_by = %s"
            f" where name = %s and status = 'running' returning {COLUMNS}",
            (stopped_by, name),
        ).fetchone()
    if row is None:
        stopped = get(conn, name)  # raises UnknownExperiment
        raise ExperimentConflict(
            f"experiment {name!r} was stopped already, at {stopped.stopped_at:%Y-%m-%d %H:%M} UTC",
            "name",
        )
    return _experiment(row)


def running(conn) -> dict[str, Experiment]:
    """{surface: its running experiment}: what serving reads, one query for every surface."""
    rows = conn.execute(f"select {COLUMNS} from ops.experiments where status = 'running'")
    return {e.surface: e for e in map(_experiment, rows)}


def running_for_surface(conn, surface: str) -> Experiment | None:
    return running(conn).get(surface)


# Model versions an arm of a running experiment serves: model_registry.prune keeps them.
SERVED_VERSIONS_SQL = """
select distinct (arm ->> 'model_version')::bigint
from ops.experiments as e cross join jsonb_array_elements(e.arms) as arm
where e.status = 'running' and jsonb_typeof(arm -> 'model_version') = 'number'
"""


# -- results ------------------------------------------------------------------------------

# The rates compared, each (successes, trials, higher is better) over an arm's sums.
RATES = {
    "play_through_rate": ("completes", "playbacks", True),
    "skip_rate": ("skips", "playbacks", False),
    "play_rate": ("plays", "items_shown", True),
}
COUNTS = ("impressions", "items_shown", "plays", "completes", "skips", "likes", "dislikes",
          "seconds_listened")  # fmt: skip
RESULTS_SQL = f"""
select experiment_arm, min(day), max(day), {", ".join(f"sum({c})" for c in COUNTS)}
from analytics.online_metrics
where experiment = %s
group by experiment_arm
"""


def _arm_totals(row) -> dict:
    arm, first_day, last_day, *sums = row
    totals = dict(zip(COUNTS, (int(s or 0) for s in sums), strict=True))
    totals["playbacks"] = totals["completes"] + totals["skips"]
    totals["first_day"] = first_day.isoformat() if first_day else None
    totals["last_day"] = last_day.isoformat() if last_day else None
    return arm, totals


def _rate(totals: dict, successes: str, trials: str) -> tuple[int, int]:
    # a song replayed from one list can count two plays: a rate is at most 1
    return min(totals[successes], totals[trials]), totals[trials]


def _lift_body(lift: Lift, higher_is_better: bool) -> dict:
    return {
        "control_rate": lift.control_rate,
        "arm_rate": lift.arm_rate,
        "difference": lift.difference,
        "low": lift.low,
        "high": lift.high,
        "relative": lift.relative,
        "significant": lift.significant,
        "higher_is_better": higher_is_better,
        "verdict": verdict(lift, higher_is_better),
    }


def results(conn, name: str, confidence: float = 0.95) -> dict:
    """The experiment with each arm's sums over ``analytics.online_metrics`` (every day and
    model version of its answers), its rates, and for each arm but the control the lift of
    each rate against the control's: the difference with its ``confidence`` interval (Wald,
    recsys.experiments.rate_lift) and the verdict in words.

    The experiment's fields (``Experiment.as_dict``), its ``confidence``, and ``arms``:
    ``[{"name", "share", "model_version", "blend", "random", "control", "totals": {...},
    "rates": {...}, "lift": {rate: {...}} or None}]``.
    """
    experiment = get(conn, name)
    found = dict(map(_arm_totals, conn.execute(RESULTS_SQL, (name,))))
    empty = _arm_totals((None, None, None, *[0] * len(COUNTS)))[1]
    control = found.get(experiment.control.name, empty)
    arms = []
    for i, arm in enumerate(experiment.arms):
        totals = found.get(arm.name, empty)
        rates = {}
        lifts = {}
        for rate, (successes, trials, higher_is_better) in RATES.items():
            hits, tries = _rate(totals, successes, trials)
            rates[rate] = hits / tries if tries else None
            if i:
                lift = rate_lift(*_rate(control, successes, trials), hits, tries, confidence)
                lifts[rate] = _lift_body(lift, higher_is_better)
        arms.append(
            {**arm.as_dict(), "control": i == 0, "totals": totals, "rates": rates,
             "lift": lifts if i else None}
        )  # fmt: skip
    return {**experiment.as_dict(), "confidence": confidence, "arms": arms}
