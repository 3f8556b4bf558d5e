"""Soak: mixed traffic at a steady rate for 30 minutes against the whole stack, a retrain midway.

A throwaway stack (PostgreSQL, Redis, Kafka, Airflow, gunicorn) with the default demo world,
the ALS model and lyrics vectors served as the serving benchmark serves them, and ``--days``
of history on Kafka for the retrain to land and train on. Airflow runs only the retrain: the
DAGs start paused, and als_training, once unpaused, has its scheduled run for the latest
interval (``catchup=False`` still makes that one) marked failed.

Traffic at fixed rates well below capacity, open loop (a slow answer is followed by a catch-up,
not by less load; latency is timed from each request's sending):

- home (``GET /api/v1/recs/<user>``) and next song (``GET /api/v1/recs/<user>/<song>``), each
  from ``--clients`` keep-alive clients;
- the simulator's live listening, in batches (``POST /api/v1/logs/events``, kind ``events``)
  and one by one (``POST /api/v1/logs/event``, kind ``event``);
- at ``--retrain-at`` minutes, ``POST /api/v1/admin/retrain``, its run then followed through
  ``GET /api/v1/admin/runs/<id>`` every 5 s (kind ``admin``; counted for errors only).

An error is an answer other than 200 (reads) or 202 with every event accepted (writes), or no
answer; 429 (rate limited) is counted apart. The first ``--warmup`` seconds fill pools, caches
and the JVMs (the api-server's Execution API is built before them, see
``warm_the_execution_api``): their errors count, but not their latency or memory. Targets:
0 errors; p99 flat within 20% (per kind, the highest p99 of a ``--flatness-window``-minute
window over the median window's, leaving out the windows the retrain overlaps, since training
takes the same 2 cores; 1-minute windows and the sampling noise of each are printed too, see
bench/soak_report.py); the memory of every
process of the stack (PostgreSQL backends: per backend) grows less than 10% from start to end.
RSS and private memory (RSS less resident shared pages) are both printed; the target is judged
on private memory, growth under 5 MB ignored: RSS counts each page of PostgreSQL's shared
buffers a process touches, and a few pages are a large share of a small process.

    python -m bench soak [--minutes 30] [--home-rate 20] [--next-rate 20] [--event-rate 40]
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from itertools import islice
from urllib.parse import urlparse

import numpy as np
import requests

from bench import loadgen
from bench.serving import request_paths, serve_model, start_sessions
from bench.soak_report import report
from bench.stack import memory_snapshot, throwaway_stack
from recsys import model_admin
from recsys.airflow_client import TERMINAL_STATES, AirflowClient
from recsysctl import demo, simulator
from recsysctl.credentials import service_session
from recsysctl.stack import airflow, kafka, redis, webapp

ADMIN = "admin"
RETRAIN_DAG = model_admin.ON_DEMAND["retrain"]
EVENT_PATH = "/api/v1/logs/event"
POLL_S = 5


@dataclass(frozen=True)
class Answer:
    kind: str
    began: float  # time.monotonic()
    ms: float
    status: int  # 0: no answer
    ok: bool


class Recorder:
    """Every answer of the soak; threads append (atomic on a list), the report reads."""

    def __init__(self):
        self.answers: list[Answer] = []

    def add(self, kind: str, began: float, status: int, ok: bool) -> None:
        self.answers.append(Answer(kind, began, (time.monotonic() - began) * 1000, status, ok))

    def reads(self, kind: str):
        """``loadgen.paced_gets``'s record callback for ``kind``."""

        def record(began: float, ms: float, status: int) -> None:
            self.answers.append(Answer(kind, began, ms, status, status == 200))

        return record


@dataclass(frozen=True)
class Timeline:
    """Measured from ``start`` (after the warm-up), minute by minute, to ``end``."""

    start: float
    end: float

    def stamp(self, t: float) -> str:
        seconds = t - self.start
        sign = "-" if seconds < 0 else "+"
        return f"{sign}{int(abs(seconds)) // 60:02d}:{int(abs(seconds)) % 60:02d}"


def send_events(settings, world, recorder: Recorder, kind: str, rate: float, until, seed: int):
    """The simulator's live listening at ``rate`` events per second until ``until``: batches
    (kind ``events``) or one event per request (kind ``event``)."""
    batched = kind == "events"
    size = simulator.batch_size_for(rate, settings.event_batch_max) if batched else 1
    url = settings.webapp_url + (simulator.EVENTS_PATH if batched else EVENT_PATH)
    stream = simulator.live_events(world, seed=seed)
    pacer = simulator.Pacer(rate)
    session = service_session(settings, "soak", ["events:write:any"])
    sent = 0
    while True:
        pacer.wait_until_due(sent + size)
        if time.monotonic() >= until:
            break
        batch = list(islice(stream, size))
        began, status, ok = time.monotonic(), 0, False
        try:
            answer = session.post(url, json={"events": batch} if batched else batch[0], timeout=30)
            status = answer.status_code
            ok = status == 202 and (not batched or answer.json().get("accepted") == size)
        except (requests.RequestException, ValueError):
            pass
        recorder.add(kind, began, status, ok)
        sent += size
    session.close()


class Retrain(threading.Thread):
    """Starts a retrain through the admin API and follows its run until it ends or
    ``deadline``; ``states`` holds (time, state) at each change."""

    def __init__(self, settings, recorder: Recorder, timeline: Timeline, deadline: float):
        super().__init__(daemon=True)
        self.base = f"{settings.webapp_url}/api/v1/admin"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {settings.admin_token}"
        self.recorder, self.timeline, self.deadline = recorder, timeline, deadline
        self.started_at: float | None = None
        self.run_id: str | None = None
        self.states: list[tuple[float, str]] = []
        self.last: dict | None = None
        self.problem: str | None = None

    def _call(self, method: str, path: str) -> tuple[int, dict]:
        began, status, body = time.monotonic(), 0, {}
        try:
            answer = self.session.request(method, self.base + path, timeout=30)
            status, body = answer.status_code, answer.json()
        except (requests.RequestException, ValueError) as err:
            body = {"message": str(err)}
        self.recorder.add(ADMIN, began, status, status in (200, 202))
        return status, body

    def _note(self, state: str) -> None:
        if not self.states or self.states[-1][1] != state:
            now = time.monotonic()
            self.states.append((now, state))
            print(f"  [{self.timeline.stamp(now)}] retrain {self.run_id}: {state}", flush=True)

    @property
    def finished_at(self) -> float | None:
        if self.states and self.states[-1][1] in TERMINAL_STATES:
            return self.states[-1][0]
        return None

    def start(self) -> None:
        self.started_at = time.monotonic()
        super().start()

    def run(self) -> None:
        status, body = self._call("POST", "/retrain")
        if status != 202:
            self.problem = f"POST /api/v1/admin/retrain answered {status}: {body}"
            print(f"  [{self.timeline.stamp(self.started_at)}] {self.problem}", flush=True)
            return
        self.run_id = body["run_id"]
        self._note(body["state"])
        while self.finished_at is None and time.monotonic() < self.deadline:
            time.sleep(POLL_S)
            status, body = self._call("GET", f"/runs/{self.run_id}")
            if status == 200:
                self.last = body
                self._note(body["state"])


def only_the_retrain(settings) -> int:
    """Let Airflow run nothing but the retrain. DAGs start paused here; als_training is
    unpaused for the admin API, and the run the scheduler then makes for its latest interval
    (``catchup=False`` still makes that one) is marked failed; returns how many were."""
    client = AirflowClient(settings)
    client.wait_for_dag(RETRAIN_DAG, timeout_s=300)  # parsed, then unpaused
    deadline = time.monotonic() + 60
    while not (runs := client.list_runs(RETRAIN_DAG)) and time.monotonic() < deadline:
        time.sleep(0.5)
    unfinished = [run["dag_run_id"] for run in runs if run["state"] not in TERMINAL_STATES]
    for run_id in unfinished:
        client.set_run_state(RETRAIN_DAG, run_id, "failed")
    return len(unfinished)


def warm_the_execution_api(settings) -> None:
    """The api-server builds its Execution API (the one task runners and DAG callbacks call)
    on the first request to it: about 50 MB, once. Left to the first callback or task, that
    lands inside the measured minutes or not, by chance; made here, the memory at start is
    that of a warm api-server, as with the other processes."""
    answer = requests.get(f"{settings.airflow_url}/execution/health", timeout=60)
    answer.raise_for_status()


def prepare(settings, world, args) -> tuple[list[str], list[str]]:
    """Serve a model, start listeners' sessions, put history on Kafka and quiet Airflow;
    returns the home and next-song request paths."""
    user_ids, _, song_ids, _, _ = serve_model(settings, world, args.days)
    rng = np.random.default_rng(0)
    start_sessions(settings, user_ids, song_ids, rng)
    _, _, home, following = request_paths(user_ids, song_ids, rng)
    print(
        f"{len(song_ids):,} songs with ALS vectors, {len(user_ids):,} listeners; gunicorn "
        f"{settings.webapp_workers}x{settings.webapp_threads} threads; rate limits per client "
        f"(0: off): recommendations {settings.rate_limit_recs_per_s:g}/s, events "
        f"{settings.rate_limit_events_per_s:g}/s",
        flush=True,
    )
    if args.retrain:
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        history = demo.generate_history(world, end, days=args.days, seed=5)
        sent = simulator.send_history(settings, history, progress=False)
        print(f"{sent:,} events of history on Kafka for the retrain", flush=True)
        failed = only_the_retrain(settings)
        warm_the_execution_api(settings)
        print(
            f"Airflow: every DAG paused but {RETRAIN_DAG}; {failed} scheduled run(s) of it "
            "marked failed",
            flush=True,
        )
    return home, following


def sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.monotonic()))


def start_traffic(settings, world, args, timeline, recorder, home, following):
    """One thread per kind of traffic, each holding its rate until ``timeline.end``."""
    url = urlparse(settings.webapp_url)
    threads = []
    for kind, paths, rate in (
        ("home", home, args.home_rate),
        ("next song", following, args.next_rate),
    ):
        gets = partial(loadgen.paced_gets, url.hostname, url.port, paths, rate, args.clients)
        threads.append(threading.Thread(target=gets, args=(timeline.end, recorder.reads(kind))))
    for kind, rate, seed in (("events", args.event_rate, 1), ("event", args.single_rate, 2)):
        writes = partial(send_events, settings, world, recorder, kind, rate)
        threads.append(threading.Thread(target=writes, args=(timeline.end, seed)))
    for thread in threads:
        thread.start()
    return threads


def soak(settings, world, args, home: list[str], following: list[str]) -> None:
    recorder = Recorder()
    now = time.monotonic()
    timeline = Timeline(now + args.warmup, now + args.warmup + args.minutes * 60)
    traffic = start_traffic(settings, world, args, timeline, recorder, home, following)
    print(f"\ntraffic started; {args.warmup:.0f} s warm-up, then {args.minutes:g} min", flush=True)

    retrain = None
    if args.retrain:
        deadline = timeline.end + args.retrain_timeout * 60
        retrain = Retrain(settings, recorder, timeline, deadline)
    retrain_at = timeline.start + args.retrain_at * 60
    snapshots = []  # the stack's memory at the start and at the end of each minute
    for minute in range(args.minutes + 1):
        tick = timeline.start + minute * 60
        if retrain and retrain.started_at is None and retrain_at <= tick:
            sleep_until(retrain_at)
            retrain.start()
        sleep_until(tick)
        snapshots.append(memory_snapshot(settings))
        if minute:
            done = [a for a in recorder.answers if timeline.start <= a.began < tick]
            failed = sum(not a.ok for a in done)
            print(f"  [{timeline.stamp(tick)}] {len(done):,} answers, {failed} not ok", flush=True)
    for thread in traffic:
        thread.join()
    if retrain and retrain.is_alive():
        print(
            f"traffic stopped; following the retrain for up to {args.retrain_timeout:g} min",
            flush=True,
        )
        retrain.join()
    report(recorder.answers, timeline, retrain, snapshots, args)


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=30, help="measured minutes (30)")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before (60)")
    parser.add_argument("--size", default="default", choices=tuple(demo.SIZES))
    parser.add_argument("--days", type=int, default=30, help="days of history (30)")
    parser.add_argument("--home-rate", type=float, default=20, help="home requests/s (20)")
    parser.add_argument("--next-rate", type=float, default=20, help="next-song requests/s (20)")
    parser.add_argument("--clients", type=int, default=4, help="clients per read kind (4)")
    parser.add_argument("--event-rate", type=float, default=40, help="events/s in batches (40)")
    parser.add_argument("--single-rate", type=float, default=4, help="single events/s (4)")
    parser.add_argument(
        "--flatness-window", type=int, default=5, help="minutes per p99 window judged (5)"
    )
    parser.add_argument("--retrain-at", type=float, help="minute of the retrain (half-way)")
    parser.add_argument(
        "--retrain-timeout", type=float, default=30, help="minutes to follow it after (30)"
    )
    parser.add_argument("--no-retrain", dest="retrain", action="store_false", help="no Airflow")
    args = parser.parse_args(argv)
    if args.retrain_at is None:
        args.retrain_at = args.minutes / 2
    return args


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    services = (kafka, redis, airflow, webapp) if args.retrain else (kafka, redis, webapp)
    paused = {"RECSYS_AIRFLOW_DAGS_PAUSED_AT_CREATION": "True"}
    with throwaway_stack(args.size, *services, environment=paused) as (settings, world):
        home, following = prepare(settings, world, args)
        soak(settings, world, args, home, following)
