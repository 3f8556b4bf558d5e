"""A small client of Airflow 3's REST API (v2): trigger DAG runs and follow them.

Used by ``make up`` to run the pipeline once, and by the admin endpoints to retrain.
"""

from __future__ import annotations

import time
from datetime import datetime

import requests

from recsys.settings import Settings

TERMINAL_STATES = ("success", "failed")
# The project's DAGs (dags/), in the order their data flows: `make up` unpauses them, the
# admin page shows their runs (tests/dags/test_dag_integrity.py keeps the list whole).
DAG_IDS = (
    "play_counters", "trending_resync", "als_training", "lyrics_embeddings", "daily_mixes",
    "online_metrics", "similar_songs",
)  # fmt: skip


# How long ``wait`` keeps polling while Airflow's API does not answer.
UNANSWERED_GRACE_S = 180.0


class AirflowError(RuntimeError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AirflowClient:
    def __init__(self, settings: Settings, timeout_s: float = 10.0):
        self.base = settings.airflow_url
        self.user = settings.airflow_admin_user
        self.password = settings.airflow_admin_password
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self._token: str | None = None

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            response = self.session.post(
                f"{self.base}/auth/token",
                json={"username": self.user, "password": self.password},
                timeout=self.timeout_s,
            )
            if response.status_code >= 300:
                raise AirflowError(f"Airflow login failed ({response.status_code})")
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def _request(self, method: str, path: str, headers: dict | None = None, **kwargs) -> dict:
        try:
            response = self.session.request(
                method,
                f"{self.base}/api/v2{path}",
                headers={**self._headers(), **(headers or {})},
                timeout=self.timeout_s,
                **kwargs,
            )
        except requests.RequestException as err:  # no answer: the caller decides to retry
            raise AirflowError(f"{method} {path}: Airflow did not answer ({err})") from None
        if response.status_code >= 300:
            raise AirflowError(
                f"{method} {path}: {response.status_code} {response.text[:300]}",
                status=response.status_code,
            )
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout_s: float = 120) -> bool:
        """Wait until the dag-processor has parsed ``dag_id``, then make sure it is unpaused.
        Returns whether it was paused (unpausing a DAG whose latest interval has passed makes
        the scheduler run that interval at once: ``scheduled_run_since`` finds that run)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                dag = self._request("GET", f"/dags/{dag_id}")
                if dag.get("is_paused"):
                    self.set_paused(dag_id, False)
                    return True
                return False
            except AirflowError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)

    def is_paused(self, dag_id: str) -> bool:
        return bool(self._request("GET", f"/dags/{dag_id}").get("is_paused"))

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._request("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def set_run_state(self, dag_id: str, run_id: str, state: str) -> None:
        """Mark a run ``success`` or ``failed`` (its unfinished tasks stop being scheduled)."""
        self._request("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}", json={"state": state})

    def trigger(
        self,
        dag_id: str,
        start: datetime | None = None,
        end: datetime | None = None,
        conf: dict | None = None,
        note: str | None = None,
        run_id: str | None = None,
    ) -> str:
        body: dict = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        if start and end:
            body.update(
                data_interval_start=start.isoformat(),
                data_interval_end=end.isoformat(),
                logical_date=start.isoformat(),
            )
        if note:
            body["note"] = note
        return self._request("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def run_interval(self, dag_id: str, start: datetime, end: datetime, note: str) -> str:
        """Run ``dag_id`` for the data interval [start, end): trigger it, or, when a run of
        that interval exists already, clear that run so it runs again (an idempotent re-run).
        """
        try:
            return self.trigger(dag_id, start, end, note=note)
        except AirflowError as err:
            if err.status != 409:
                raise
        runs = self._request(
            "GET",
            f"/dags/{dag_id}/dagRuns",
            params={"logical_date_gte": start.isoformat(), "logical_date_lte": start.isoformat()},
        )["dag_runs"]
        if not runs:
            raise AirflowError(f"{dag_id}: a run for {start.isoformat()} exists but is not listed")
        run_id = runs[0]["dag_run_id"]
        self._request("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear", json={"dry_run": False})
        return run_id

    def list_runs(self, dag_id: str, limit: int = 100) -> list[dict]:
        """The DAG's most recent runs, newest first."""
        return self._request(
            "GET", f"/dags/{dag_id}/dagRuns", params={"limit": limit, "order_by": "-run_after"}
        )["dag_runs"]

    def scheduled_run_since(
        self, dag_id: str, since: datetime, timeout_s: float = 45
    ) -> str | None:
        """The id of a run the scheduler queued for ``dag_id`` at ``since`` or later, waiting
        up to ``timeout_s`` for one to appear; None when none did."""
        deadline = time.monotonic() + timeout_s
        while True:
            for run in self.list_runs(dag_id, limit=10):
                queued = run.get("queued_at")
                if run.get("run_type") == "scheduled" and queued:
                    if datetime.fromisoformat(queued.replace("Z", "+00:00")) >= since:
                        return run["dag_run_id"]
            if time.monotonic() > deadline:
                return None
            time.sleep(2)

    def backfills(self, dag_id: str) -> list[dict]:
        """The DAG's backfills; ``completed_at`` is set once all their runs have finished."""
        return self._request("GET", "/backfills", params={"dag_id": dag_id})["backfills"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """State of each task of one run (task_id -> state)."""
        instances = self._request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti["state"] for ti in instances["task_instances"]}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The text of one task try's log (for reports of what failed)."""
        body = self._request(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        content = body.get("content", "")
        if isinstance(content, list):  # structured log lines
            return "\n".join(
                line.get("event", str(line)) if isinstance(line, dict) else str(line)
                for line in content
            )
        return str(content)

    def run_state(self, dag_id: str, run_id: str) -> dict:
        return self._request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def wait(self, dag_id: str, run_id: str, timeout_s: float = 1800, on_poll=None) -> str:
        """The run's final state. Airflow not answering for a while (its API server starved
        of CPU by the run it reports on) is waited out for up to UNANSWERED_GRACE_S; an answer
        that refuses the request is not."""
        deadline = time.monotonic() + timeout_s
        unanswered_since = None
        while time.monotonic() < deadline:
            try:
                state = self.run_state(dag_id, run_id)["state"]
            except AirflowError as err:
                if err.status is not None and err.status < 500:
                    raise
                unanswered_since = unanswered_since or time.monotonic()
                if time.monotonic() - unanswered_since > UNANSWERED_GRACE_S:
                    raise
                time.sleep(3)
                continue
            unanswered_since = None
            if on_poll:
                on_poll(state)
            if state in TERMINAL_STATES:
                return state
            time.sleep(3)
        raise AirflowError(f"{dag_id} run {run_id} still running after {timeout_s:.0f} s")
