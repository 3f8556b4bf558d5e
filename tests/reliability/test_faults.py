"""Faults of the single-node stack, on real processes and real signals:

- PostgreSQL restarted while the play_counters DAG's count_plays task writes: the task
  fails, Airflow retries it, and the counters equal a brute-force count over the lake. The
  DAG runs on the real Airflow (scheduler, LocalExecutor, spark-submit), not on plain
  spark-submit runs. To catch the job inside its write transaction, the test holds the
  counters' advisory lock (as a concurrent counter writer, trending_resync, would) until
  the job waits on it, then restarts PostgreSQL with the stack's own stop and start.
  Airflow's dag-processor and triggerer (sometimes the scheduler too) exit when their
  database goes away; the stack's supervisor (``recsysctl.stack.supervise``) starts them
  again, and the test prints each restart it logged.
- Redis stopped for some seconds under HTTP load through gunicorn: recommendations degrade
  to the long-term vector, events are still accepted and stored, nothing hangs, and
  sessions come back once Redis does.
- The served model swapped back and forth through the admin API under HTTP load, between
  two versions whose vectors differ in size: no error, no empty answer, and every answer
  that started after an activation returned names the version activated.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psycopg
import pytest
import requests

from recsys import db
from recsys import model_registry as registry
from recsys.airflow_client import DAG_IDS, AirflowClient, AirflowError
from recsysctl import demo, simulator
from recsysctl.stack import airflow as airflow_service
from recsysctl.stack import postgres as postgres_service
from recsysctl.stack import redis as redis_service
from recsysctl.stack.process import log_path
from spark_jobs.common import warehouse_store
from tests.kafka_helpers import end_offsets, records_since
from tests.pipeline_helpers import (
    assert_counters_equal_the_lake,
    brute_force,
    counter_tables,
    interval_starts,
    lake_rows,
)
from tests.reliability.http_load import (
    CLIENT_TIMEOUT_S,
    Load,
    event_posts,
    failures,
    home_requests,
    modes,
    next_song_requests,
    wait_for,
)
from webapp.services.sessions import BACKOFF_S as SESSIONS_BACKOFF_S

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

AIRFLOW_DAGS = ("play_counters",)
# -- 1. PostgreSQL restarted during play_counters ------------------------------------------
DAG = "play_counters"
DOWN_S = 5  # PostgreSQL stays stopped this long


def _only_play_counters(client) -> None:
    """Pause the stack's other DAGs and fail their runs. A DAG unpaused (as ``airflow_api``
    does) at once runs its latest interval; those runs would queue in the one Spark slot,
    and a trending resync would also take the counters' lock."""
    for dag_id in set(DAG_IDS) - {DAG}:
        _quiet_airflow_call(lambda d=dag_id: client.set_paused(d, True), 180)  # once parsed
        for run in client.list_runs(dag_id, limit=20):
            if run["state"] in ("queued", "running"):
                client.set_run_state(dag_id, run["dag_run_id"], "failed")


def _quiet_airflow_call(call, timeout_s: float = 120):
    """``call()``, retried while Airflow's api-server gets over the database restart."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except (AirflowError, requests.RequestException):
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


@dataclass
class TaskStates:
    """One task's states as they change, polled every second by a thread of its own (with a
    client of its own), so the timeline has no gaps while the test restarts things."""

    client: AirflowClient
    run_id: str
    task_id: str
    seen: list[tuple[float, dict]] = field(default_factory=list)  # (when, states of all tasks)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(1.0):
            try:
                tasks = self.client.task_states(DAG, self.run_id)
            except (AirflowError, requests.RequestException):
                continue
            if not self.seen or self.seen[-1][1].get(self.task_id) != tasks.get(self.task_id):
                self.seen.append((time.monotonic(), tasks))

    def now(self) -> dict:
        return self.seen[-1][1] if self.seen else {}

    def states(self) -> list[str | None]:
        return [tasks.get(self.task_id) for _, tasks in self.seen]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)


def _airflow_logs(settings) -> dict[str, int]:
    """Each Airflow component's log and its size now."""
    names = [f"airflow-{c}" for c in airflow_service.COMPONENTS]
    return {name: log_path(settings.state_dir, name).stat().st_size for name in names}


def _airflow_all_healthy(settings) -> bool:
    """The metadatabase, scheduler, triggerer and dag-processor all report healthy."""
    report = _quiet_airflow_call(lambda: airflow_service.health_report(settings))
    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    return all((report.get(part) or {}).get("status") == "healthy" for part in parts)


def _supervisor_restarts(settings, sizes: dict[str, int]) -> list[str]:
    """The restarts the supervisor logged since ``sizes`` were taken."""
    lines = []
    for name, size in sizes.items():
        with open(log_path(settings.state_dir, name), "rb") as log:
            log.seek(size)
            lines += [line for line in log.read().decode(errors="replace").splitlines()
                      if "supervise]" in line]  # fmt: skip
    return lines


def _waiting_on_counters_lock(settings, blocker_pid: int) -> int | None:
    """The pid of a session waiting for the counters' advisory lock, if any."""
    with db.connect(settings, autocommit=True) as conn:
        row = conn.execute(
            "select pid from pg_stat_activity where wait_event_type = 'Lock'"
            " and wait_event = 'advisory' and datname = current_database() and pid <> %s",
            (blocker_pid,),
        ).fetchone()
    return row[0] if row else None


def _restart_postgres_mid_write(settings) -> tuple:
    """Hold the counters' lock until count_plays waits on it inside its write transaction,
    then stop PostgreSQL, wait DOWN_S and start it again. Returns (the job's backend pid,
    seconds until it waited, when the stop began, seconds the stop and the start took)."""
    blocker = db.connect(settings)
    try:
        warehouse_store.begin(blocker)  # as a concurrent counters writer would
        locked_at = time.monotonic()
        waiter = wait_for(
            lambda: _waiting_on_counters_lock(settings, blocker.info.backend_pid),
            300,
            "count_plays waiting on the counters' lock",
            every_s=0.5,
        )
        caught_after = time.monotonic() - locked_at
        stop_began = time.monotonic()
        postgres_service.stop(settings)
        stop_took = time.monotonic() - stop_began
        time.sleep(DOWN_S)
        start_began = time.monotonic()
        postgres_service.start(settings)
        start_took = time.monotonic() - start_began
    finally:
        try:
            blocker.close()
        except psycopg.Error:
            pass
        postgres_service.start(settings)  # a no-op unless the test failed above
    return waiter, caught_after, stop_began, stop_took, start_took


def _one_quarter_ahead() -> None:
    """Sleep into the next 15-minute interval when this one ends within a minute, so the
    events sent next are all appended in one interval."""
    now = dt.datetime.now(dt.UTC)
    left = (15 - now.minute % 15) * 60 - now.second - now.microsecond / 1e6
    if left < 60:
        time.sleep(left + 1)


def test_postgres_restarted_while_play_counters_writes(airflow_api, spark, settings, world, kafka):
    client = airflow_api
    _only_play_counters(client)
    _one_quarter_ahead()
    sent_at = dt.datetime.now(dt.UTC)
    today = dt.datetime.combine(sent_at.date(), dt.time(), dt.UTC)
    events = list(demo.generate_history(world, today, days=1, seed=31))
    acknowledged = simulator.send_history(settings, events, progress=False)
    (start,) = interval_starts(sent_at - dt.timedelta(seconds=1), dt.datetime.now(dt.UTC))
    end = start + dt.timedelta(minutes=15)
    run_id = client.run_interval(DAG, start, end, note="tests: PostgreSQL restarted mid-write")

    tasks = TaskStates(AirflowClient(settings), run_id, "count_plays")
    logs = _airflow_logs(settings)
    try:
        # The run is the active one (max_active_runs=1) once its land_events has succeeded.
        wait_for(lambda: tasks.now().get("land_events") == "success", 900, "land_events", 1)
        waiter, caught_after, stop_began, stop_took, start_took = _restart_postgres_mid_write(
            settings
        )

        def finished():
            run = _quiet_airflow_call(lambda: client.run_state(DAG, run_id))
            return run if run["state"] in ("success", "failed") else None

        run = wait_for(finished, 900, "the run to finish", every_s=2)
    finally:
        tasks.stop()
    first_try = client.task_log(DAG, run_id, "count_plays", 1)
    second_try = client.task_log(DAG, run_id, "count_plays", 2)
    counted = [line for line in second_try.splitlines() if "counted [" in line]

    rows = lake_rows(spark, settings)
    tables = counter_tables(settings)
    window = [r for r in rows if start <= r.kafka_timestamp.replace(tzinfo=dt.UTC) < end]
    expected_interval, _ = brute_force(rows, [(start, end)], settings.play_min_seconds)
    interval_stats = [
        tuple(r[1:]) for r in tables["analytics.song_interval_stats"] if r[0] == start
    ]
    ledger = {r[0]: r for r in tables["analytics.counter_runs"]}.get(start)
    t0 = stop_began
    print(
        f"\nplay_counters [{start:%H:%M}, {end:%H:%M}) UTC, run {run_id}: sent {len(events)} "
        f"events, acknowledged {acknowledged}\n"
        f"  count_plays caught waiting on the counters' lock (pid {waiter}) {caught_after:.0f} s "
        f"after the lock was taken; PostgreSQL stopped in {stop_took:.1f} s, down {DOWN_S} s, "
        f"started in {start_took:.1f} s\n"
        f"  restarts by the supervisor: "
        + ("; ".join(_supervisor_restarts(settings, logs)) or "none")
        + "\n  count_plays states, seconds from the stop: "
        + ", ".join(f"{t.get('count_plays')} {at - t0:+.0f}" for at, t in tasks.seen)
        + f"\n  run {run['state']}; try 2 {counted[-1].split('counted ')[-1] if counted else '-'}\n"
        f"  lake rows in the interval {len(window)}, ledger {ledger[2:] if ledger else None}; "
        f"song_interval_stats rows {len(interval_stats)}, brute force {len(expected_interval)}; "
        f"song_daily_stats rows {len(tables['analytics.song_daily_stats'])}"
    )
    assert run["state"] == "success", f"run {run['state']}: {tasks.states()}"
    retried = iter(tasks.states())  # count_plays ran, failed, ran again and succeeded
    assert all(s in retried for s in ("running", "up_for_retry", "running", "success")), (
        tasks.states()
    )
    assert "terminating connection due to administrator command" in first_try, first_try[-3000:]
    assert counted, f"the second try counted nothing:\n{second_try[-3000:]}"
    assert {e["event_id"] for e in events} <= {r.event_id for r in window}
    assert ledger is not None and ledger[2] == len(window) >= acknowledged
    assert interval_stats == expected_interval
    counted_windows = assert_counters_equal_the_lake(tables, rows, settings.play_min_seconds)
    assert (start, end) in counted_windows
    # every component is up again: the supervisor restarted what exited
    wait_for(lambda: _airflow_all_healthy(settings), 300, "Airflow healthy again", every_s=2)


# -- 2. Redis stopped under HTTP load ------------------------------------------------------
WARM_S = 5
REDIS_DOWN_S = 8
AFTER_S = 5  # answers checked after the recovery bound
RECOVERY_BOUND_S = SESSIONS_BACKOFF_S + 5  # the session store retries Redis after its backoff


def test_redis_stopped_under_http_load(webapp_server, als_model, als_factors, world, settings):
    url = settings.webapp_url
    users = als_factors[1][:40]  # listeners the served model knows
    start_offsets = end_offsets(settings)
    load = Load(
        {
            "home": (4, home_requests(url, users)),
            "event": (2, event_posts(url, users, world.songs)),
        }
    )
    load.start()
    try:
        time.sleep(WARM_S)
        stop_began = time.monotonic()
        redis_service.stop(settings)
        stopped = time.monotonic()
        time.sleep(REDIS_DOWN_S)
        start_began = time.monotonic()
        redis_service.start(settings)
        back = time.monotonic()

        def recovered():
            return next(
                (a for a in load.of("home") if a.started >= back and a.status == 200
                 and "sessions_unavailable" not in a.body.get("degraded", [])),
                None,
            )  # fmt: skip

        first_clean = wait_for(recovered, RECOVERY_BOUND_S, "a recommendation not degraded")
        time.sleep(back + RECOVERY_BOUND_S + AFTER_S - time.monotonic())
    finally:
        load.stop()
        redis_service.start(settings)  # a no-op unless the test failed above

    home, events = load.of("home"), load.of("event")
    before = [a for a in home if a.ended < stop_began]
    during = [a for a in home if a.within(stopped, start_began)]
    settled = [a for a in home if a.started >= back + RECOVERY_BOUND_S]
    degraded = [a for a in home if "sessions_unavailable" in a.body.get("degraded", [])]
    accepted = {a.body.get("event_id") for a in events if a.status == 202}
    in_kafka = Counter(r["event_id"] for r in records_since(settings, start_offsets))
    missing = accepted - set(in_kafka)
    print(
        f"\nRedis stopped in {stopped - stop_began:.1f} s, down {start_began - stopped:.1f} s, "
        f"started in {back - start_began:.1f} s; {len(home)} recommendation and "
        f"{len(events)} event requests from 6 clients\n"
        f"  home answers: before {len(before)} {modes(before)}, wholly during the outage "
        f"{len(during)} {modes(during)}, degraded sessions_unavailable {len(degraded)}; first "
        f"clean answer {first_clean.started - back:.1f} s after Redis was back (bound "
        f"{RECOVERY_BOUND_S:.0f} s)\n"
        f"  failures: home {dict(failures(home, 200))}, events {dict(failures(events, 202))}; "
        f"empty lists {sum(a.body.get('items') == 0 for a in home)}; slowest "
        f"{max(a.seconds for a in home + events):.2f} s (client timeout {CLIENT_TIMEOUT_S} s)\n"
        f"  events accepted {len(accepted)}, in Kafka {len(accepted) - len(missing)}, "
        f"missing {len(missing)}"
    )
    assert not failures(home, 200) and not failures(events, 202)
    assert all(a.body["items"] > 0 for a in home), "an empty recommendation list"
    assert before and not [a for a in before if "sessions_unavailable" in a.body["degraded"]]
    assert during, "no recommendation was answered while Redis was down"
    assert all(
        "sessions_unavailable" in a.body["degraded"] and a.body["mode"] == "long_term"
        for a in during
    ), Counter((tuple(a.body["degraded"]), a.body["mode"]) for a in during)
    assert settled and not [a for a in settled if "sessions_unavailable" in a.body["degraded"]]
    assert len(accepted) == len(events) and not missing


# -- 3. Model swap under HTTP load ---------------------------------------------------------
SWAPS = 6
SWAP_EVERY_S = 4
SMALL_RANK = 8  # the second version's vectors: a swap changes their size too


def test_model_swapped_under_http_load(
    webapp_server, als_model, write_model_version, als_factors, settings
):
    url = settings.webapp_url
    users, songs = als_factors[1][:40], als_factors[3][:200]
    other = write_model_version(rank=SMALL_RANK)
    versions = (als_model, other)
    admin = {"Authorization": f"Bearer {settings.admin_token}"}

    def activate(version: int) -> tuple[float, float]:
        began = time.monotonic()
        response = requests.post(
            f"{url}/api/v1/admin/models/{version}/activate", headers=admin, timeout=30
        )
        assert response.status_code == 200, response.text
        assert response.json()["active"] == version
        return began, time.monotonic()

    activate(als_model)
    load = Load(
        {
            "home": (3, home_requests(url, users)),
            "next": (3, next_song_requests(url, users, songs)),
        }
    )
    swaps = []  # (began, returned, version activated)
    load.start()
    try:
        time.sleep(WARM_S)
        for i in range(SWAPS):
            version = versions[(i + 1) % 2]
            swaps.append((*activate(version), version))
            time.sleep(SWAP_EVERY_S)
    finally:
        load_stopped = time.monotonic()
        load.stop()
        with db.connect(settings, autocommit=True) as conn:  # the module's model, as before
            registry.activate(conn, als_model, by="tests")

    answers = load.of("home") + load.of("next")
    # Answers wholly between one activation's return and the next one's start.
    ends = [began for began, _, _ in swaps[1:]] + [load_stopped]
    windows = [
        (version, [a for a in answers if a.within(returned, until)])
        for (_, returned, version), until in zip(swaps, ends, strict=True)
    ]
    stale = [
        (version, a.body.get("model_version")) for version, inside in windows for a in inside
        if a.body.get("model_version") != version
    ]  # fmt: skip
    seen = Counter((a.kind, a.body.get("model_version")) for a in answers)
    print(
        f"\nversions {als_model} (rank {als_factors[0].rank}) and {other} (rank {SMALL_RANK}) "
        f"swapped {SWAPS} times, every {SWAP_EVERY_S} s; activation took "
        + ", ".join(f"{returned - began:.2f}" for began, returned, _ in swaps)
        + f" s\n  {len(answers)} answers from 6 clients; by (kind, version): {dict(seen)}\n"
        f"  answers wholly between activations: "
        + ", ".join(f"v{v} {len(inside)}" for v, inside in windows)
        + f"; naming another version {len(stale)}\n"
        f"  failures: {dict(failures(answers, 200))}; empty lists "
        f"{sum(a.body.get('items') == 0 for a in answers)}; modes "
        f"{modes(answers)}; slowest "
        f"{max(a.seconds for a in answers):.2f} s"
    )
    assert not failures(answers, 200), [a for a in answers if a.status != 200][:5]
    assert all(a.body["items"] > 0 for a in answers), "an empty recommendation list"
    assert {(kind, v) for kind in ("home", "next") for v in versions} <= set(seen)
    assert set(seen) <= {(kind, v) for kind in ("home", "next") for v in versions}
    assert all(inside for _, inside in windows), "a version was never served under load"
    assert not stale, f"answers named the version before the swap: {stale[:5]}"
