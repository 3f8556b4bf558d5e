"""A/B experiments on recommendation surfaces: arms, stable assignment and the lift statistics.

Pure logic with no I/O: the serving code asks :func:`assign_arm` which arm a listener is in,
and the reporting code turns counts per arm into a :class:`Lift` and a plain-words
:func:`verdict`. The first arm of an experiment is always the control; every other arm is
compared with it.

Assignment hashes ``f"{experiment_id}:{listener_id}"`` with SHA-256, so it survives restarts
and is the same in every process, and an experiment's split is independent of any other's.

A rate is successes over trials: the play-through rate is completes / (completes + skips)
(higher is better), the skip rate is skips / (completes + skips) (lower is better), the play
rate is plays / songs shown (higher is better).

:func:`definition_problems` checks a whole experiment (name, surface, arms) for serving and
names the field at fault; the control must be plain, so that stopping an experiment returns
every listener to what the control served.

>>> arms = [Arm("control", 0.5), Arm("session-heavy", 0.5, blend=0.3)]
>>> validate_arms(arms)
[]
>>> assign_arm("listener-42", "exp-7", arms) == assign_arm("listener-42", "exp-7", arms)
True
>>> lift = rate_lift(500, 1000, 600, 1000)
>>> round(lift.difference, 3), round(lift.low, 3), round(lift.high, 3), lift.significant
(0.1, 0.057, 0.143, True)
>>> verdict(lift, higher_is_better=True)
'better'
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

MIN_TRIALS = 30
"""Fewer trials than this on either side and :func:`verdict` says "not enough data"."""

MAX_ARM_NAME = 40
SHARE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Arm:
    """One arm of an experiment.

    Parameters
    ----------
    name : str
        Shown in reports; unique within the experiment, at most 40 characters.
    share : float
        Fraction of the experiment's listeners sent to this arm, > 0.
    model_version : int or None
        The model version this arm serves; None serves the active model.
    blend : float or None
        The surface's blend weight instead of the setting's: on the home page the long-term
        weight (``RECSYS_RECS_LONG_TERM_WEIGHT``), in next songs the ALS weight
        (``RECSYS_NEXT_SONG_ALS_WEIGHT``); from 0 to 1. None keeps the setting.
    random : bool
        Serve random songs: a deliberately poor arm, for demonstrating that the statistics
        catch a worse arm.
    """

    name: str
    share: float
    model_version: int | None = None
    blend: float | None = field(default=None, hash=False)
    random: bool = False

    @property
    def plain(self) -> bool:
        """Serves what the surface serves outside any experiment."""
        return self.model_version is None and self.blend is None and not self.random

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "share": self.share,
            "model_version": self.model_version,
            "blend": self.blend,
            "random": self.random,
        }

    @classmethod
    def from_dict(cls, arm: dict) -> Arm:
        return cls(
            arm["name"],
            arm["share"],
            arm.get("model_version"),
            arm.get("blend"),
            bool(arm.get("random", False)),
        )


def validate_arms(arms: Sequence[Arm]) -> list[str]:
    """Problems with an experiment's arms, in plain words; an empty list when they are fine.

    The first arm is the control, so it must not be a ``random`` arm: every comparison is
    against it.
    """
    problems = []
    if len(arms) < 2:
        problems.append(
            f"an experiment needs at least 2 arms (a control and one other), got {len(arms)}"
        )
    seen: set[str] = set()
    for position, arm in enumerate(arms, start=1):
        if not arm.name.strip():
            problems.append(f"arm {position} has a blank name")
        elif len(arm.name) > MAX_ARM_NAME:
            problems.append(f"arm name {arm.name!r} is longer than {MAX_ARM_NAME} characters")
        elif arm.name in seen:
            problems.append(f"arm name {arm.name!r} is used more than once")
        seen.add(arm.name)
        if not arm.share > 0:  # also catches NaN
            problems.append(f"arm {arm.name!r} has share {arm.share}; shares must be > 0")
    total = sum(arm.share for arm in arms)
    if arms and not abs(total - 1) <= SHARE_TOLERANCE:
        problems.append(f"arm shares sum to {total:g}; they must sum to 1")
    if arms and arms[0].random:
        problems.append(
            f"the first arm {arms[0].name!r} is the control and cannot serve random songs"
        )
    return problems


SURFACES = ("home", "up_next")
NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def definition_problems(name: str, surface: str, arms: Sequence[Arm]) -> list[tuple[str, str]]:
    """``(field, reason)`` for each problem of an experiment as serving would run it; empty
    when it can start (the model versions' existence is the store's to check).

    Besides :func:`validate_arms` (reported as field ``arms``): the name goes in URLs; the
    control (``arms[0]``) is plain; a blend is a weight from 0 to 1; a random arm has no
    model version or blend; and next songs (``up_next``) are always served from the active
    model, so an arm there cannot name a model version.
    """
    problems = []
    if not _NAME.fullmatch(name):
        problems.append(("name", f"must be {NAME_RULE}"))
    if surface not in SURFACES:
        problems.append(("surface", f"must be one of {', '.join(SURFACES)}"))
    problems += [("arms", problem) for problem in validate_arms(arms)]
    if arms and not arms[0].plain and not arms[0].random:  # validate_arms reports random
        problems.append(
            ("arms[0]", "the first arm is the control: it serves as usual (no model_version"
             " or blend), so that stopping the experiment changes nothing for its listeners")
        )  # fmt: skip
    for i, arm in enumerate(arms):
        problems += [
            (f"arms[{i}].{field}", reason) for field, reason in _arm_problems(arm, surface)
        ]
    return problems


def _arm_problems(arm: Arm, surface: str) -> list[tuple[str, str]]:
    problems = []
    if arm.blend is not None and not (
        isinstance(arm.blend, int | float) and not isinstance(arm.blend, bool)
        and 0 <= arm.blend <= 1
    ):  # fmt: skip
        problems.append(("blend", "must be a number from 0 to 1"))
    if arm.model_version is not None:
        if isinstance(arm.model_version, bool) or not isinstance(arm.model_version, int):
            problems.append(("model_version", "must be an integer"))
        elif surface == "up_next":
            problems.append(
                ("model_version", "next songs are always served from the active model;"
                 " compare model versions on the home surface")
            )  # fmt: skip
    if arm.random and (arm.model_version is not None or arm.blend is not None):
        problems.append(("random", "a random arm serves random songs: no model_version or blend"))
    return problems


def _unit_interval(listener_id: str, experiment_id: str) -> float:
    """A uniform number in [0, 1) fixed by the pair; 53 bits so the float is never 1.0."""
    digest = hashlib.sha256(f"{experiment_id}:{listener_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / 2**53


def assign_arm(listener_id: str, experiment_id: str, arms: Sequence[Arm]) -> Arm:
    """The arm a listener is in: the same every time for the same experiment.

    Raises
    ------
    ValueError
        If :func:`validate_arms` finds a problem with ``arms``.
    """
    problems = validate_arms(arms)
    if problems:
        raise ValueError("; ".join(problems))
    point = _unit_interval(listener_id, experiment_id)
    cumulative = 0.0
    for arm in arms:
        cumulative += arm.share
        if point < cumulative:
            return arm
    return arms[-1]  # shares may sum to a hair under 1


@dataclass(frozen=True)
class Lift:
    """An arm's rate against the control's.

    Rates are None on a side with no trials; ``difference``, ``low``, ``high`` and
    ``relative`` are None unless both sides have trials (``relative`` also when the control
    rate is 0). ``low``/``high`` bound arm − control at the requested confidence.
    """

    control_rate: float | None
    arm_rate: float | None
    difference: float | None
    low: float | None
    high: float | None
    significant: bool
    relative: float | None
    control_trials: int
    arm_trials: int


def _check_counts(side: str, successes: int, trials: int) -> None:
    if not 0 <= successes <= trials:
        raise ValueError(f"{side}: need 0 <= successes <= trials, got {successes}/{trials}")


def rate_lift(
    control_successes: int,
    control_trials: int,
    arm_successes: int,
    arm_trials: int,
    confidence: float = 0.95,
) -> Lift:
    """Difference of two rates with a Wald (normal, unpooled variance) confidence interval.

    The interval is difference ± z · sqrt(p_c(1 − p_c)/n_c + p_a(1 − p_a)/n_a), z the
    two-sided normal quantile. It is too narrow when a rate is near 0 or 1 with few trials,
    which is one reason :func:`verdict` wants :data:`MIN_TRIALS` on both sides.

    Raises
    ------
    ValueError
        If a count is negative, successes exceed trials, or confidence is not in (0, 1).
    """
    _check_counts("control", control_successes, control_trials)
    _check_counts("arm", arm_successes, arm_trials)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    control_rate = control_successes / control_trials if control_trials else None
    arm_rate = arm_successes / arm_trials if arm_trials else None
    if control_rate is None or arm_rate is None:
        return Lift(
            control_rate, arm_rate, None, None, None, False, None, control_trials, arm_trials
        )
    difference = arm_rate - control_rate
    se = math.sqrt(
        control_rate * (1 - control_rate) / control_trials + arm_rate * (1 - arm_rate) / arm_trials
    )
    half_width = NormalDist().inv_cdf(0.5 + confidence / 2) * se
    low, high = difference - half_width, difference + half_width
    return Lift(
        control_rate=control_rate,
        arm_rate=arm_rate,
        difference=difference,
        low=low,
        high=high,
        significant=low > 0 or high < 0,
        relative=difference / control_rate if control_rate else None,
        control_trials=control_trials,
        arm_trials=arm_trials,
    )


def verdict(lift: Lift, higher_is_better: bool) -> str:
    """The lift in plain words: "better", "worse", "not yet significant" or "not enough data".

    Pass ``higher_is_better=False`` for rates where lower wins, such as the skip rate.
    """
    if min(lift.control_trials, lift.arm_trials) < MIN_TRIALS:
        return "not enough data"
    if not lift.significant:
        return "not yet significant"
    return "better" if (lift.difference > 0) == higher_is_better else "worse"
