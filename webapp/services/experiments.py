"""Experiments as serving sees them: the running experiment of each surface, and the arm a
listener is in (recsys.experiments.assign_arm: a stable hash, the same in every process).

Each web worker reads the running experiments (ops.experiments, one query for every surface)
at most every ``RECSYS_EXPERIMENTS_CACHE_S`` seconds, so most requests cost no round trip
for it and a start or a stop is seen within that time. Reads ops.experiments; writes nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from recsys import experiment_store
from recsys.experiment_store import Experiment
from recsys.experiments import Arm, assign_arm


@dataclass(frozen=True)
class Assignment:
    """A listener's arm in the running experiment of a surface."""

    experiment: str
    arm: Arm

    def as_answer(self) -> dict:
        """What an answer says of it: ``{"name": experiment, "arm": arm name}``."""
        return {"name": self.experiment, "arm": self.arm.name}


class RunningExperiments:
    """The running experiments, read again once ``cache_s`` seconds have passed."""

    def __init__(self, cache_s: float, clock: Callable[[], float] = time.monotonic):
        self._cache_s = cache_s
        self._clock = clock
        self._running: dict[str, Experiment] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def _fresh(self) -> bool:
        return self._read_at is not None and self._clock() - self._read_at < self._cache_s

    def running(self, conn) -> dict[str, Experiment]:
        """{surface: running experiment}, from the cache while it is fresh."""
        if not self._fresh():
            with self._lock:  # one thread reads; the others wait for its answer
                if not self._fresh():
                    self._running = experiment_store.running(conn)
                    self._read_at = self._clock()
        return self._running

    def assignment(self, conn, surface: str, user_id: str) -> Assignment | None:
        """The listener's arm on ``surface``; None when no experiment runs there."""
        experiment = self.running(conn).get(surface)
        if experiment is None:
            return None
        return Assignment(experiment.name, assign_arm(user_id, experiment.name, experiment.arms))
