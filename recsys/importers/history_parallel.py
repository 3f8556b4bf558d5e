"""Both passes of a large import on every core: worker processes read byte ranges of a
Last.fm file (``read_parts``) and stage the spilled months (``stage_months``).

Workers are spawned (never forked from a process holding Arrow's threads and a database
connection) once per import (``Workers``: both passes use the same processes, so their start
is paid once, while the importing process loads the catalog), get the catalog with their
range to read, and report progress through a queue. A worker whose
importing process died (``kill -9``) exits within half a second, and holds a shared lock on
the run's ``.workers`` file while it lives, so a re-run (which takes that lock exclusively
first) never shares the staging folder with a dying run's workers.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import queue
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from recsys.importers.history_lake import Spill, Staged, stage_month
from recsys.importers.history_read import PartJob, PartResult, read_part
from recsys.importers.matching import CatalogIndex
from recsys.importers.reading import line_starts

_PROGRESS = None
_HELD: list = []


def workers_lock(staging: Path) -> Path:
    return Path(f"{staging}.workers")


def _start_worker(parent: int, lock: str, progress) -> None:
    """Pool initializer: watch the parent, hold the workers' lock."""
    global _PROGRESS

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    held = open(lock, "a")  # noqa: SIM115 (held for the worker's life)
    fcntl.flock(held, fcntl.LOCK_SH)
    _HELD.append(held)
    _PROGRESS = progress
    # pyarrow's first NumPy conversion imports pandas (about 0.3 s): paid now, while the
    # importing process loads the catalog, not in the first range read
    pa.array(np.zeros(1, np.int64), pa.int64()).to_numpy()


class Workers:
    """The import's worker processes, for both passes; ``with Workers(...) as workers:``."""

    def __init__(self, count: int, staging: Path):
        context = multiprocessing.get_context("spawn")
        self.count = count
        self.reports = context.Queue()
        self.pool = context.Pool(
            count,
            initializer=_start_worker,
            initargs=(os.getpid(), str(workers_lock(staging)), self.reports),
        )

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.terminate()
        self.pool.join()


def _read_task(task: tuple[int, PartJob, CatalogIndex]) -> PartResult:
    number, job, index = task
    return read_part(job, index, lambda done, rows: _PROGRESS.put((number, done, rows)))


def read_parts(
    job: PartJob, index: CatalogIndex, workers: Workers, progress=None
) -> list[PartResult]:
    """``job``'s file read as one byte range per worker at once, one spill folder each; the
    parts' results in file order."""
    starts = line_starts(job.path, workers.count)
    ends = [*starts[1:], None]
    jobs = [
        replace(job, start=start, end=end, first_line=1 if start == 0 else None,
                spill=f"{job.spill}/part-{k}", rejects=f"{job.rejects}.part-{k}")
        for k, (start, end) in enumerate(zip(starts, ends, strict=True))
    ]  # fmt: skip
    done = {k: (0, 0) for k in range(len(jobs))}
    tasks = [(number, part, index) for number, part in enumerate(jobs)]
    pending = workers.pool.map_async(_read_task, tasks, chunksize=1)
    while not pending.ready():
        try:
            number, position, rows = workers.reports.get(timeout=0.2)
        except queue.Empty:
            continue
        done[number] = (position, rows)
        if progress:
            progress(sum(p for p, _ in done.values()), sum(r for _, r in done.values()))
    return pending.get()


def _stage_task(task) -> Staged:
    month, folders, root, staging, key, committed_at = task
    staged = Staged()
    stage_month(Spill.read_month(folders, month), root, staging, key, committed_at, staged)
    Spill.remove_month(folders, month)
    return staged


def stage_months(
    months: list[str],
    spill_folders: list[Path],
    root: Path,
    staging: Path,
    key: str,
    committed_at: datetime,
    workers: Workers | None,
) -> Staged:
    """Every spilled month staged, by ``workers`` (None: in this process) a month each at a
    time; their outcomes added up."""
    tasks = [(m, spill_folders, root, staging, key, committed_at) for m in months]
    total = Staged()
    parts = map(_stage_task, tasks) if workers is None else workers.pool.imap(_stage_task, tasks)
    for part in parts:
        total.add(part)
    return total
