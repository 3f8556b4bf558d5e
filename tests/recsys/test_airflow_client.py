"""AirflowClient.wait rides out an API server that does not answer for a while (it shares
the machine with the runs it reports on) and stops at once on an answer that refuses; here
against a small HTTP server on loopback that plays Airflow's two endpoints."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from recsys import airflow_client
from recsys.airflow_client import AirflowClient, AirflowError
from recsys.settings import Settings


class FakeAirflow:
    def __init__(self, answers: list[int]):
        self.answers = list(answers)  # statuses of the run-state requests, in order
        self.calls = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # /auth/token
                self._send(201, {"access_token": "t"})

            def do_GET(self):
                server.calls += 1
                status = server.answers.pop(0) if server.answers else 200
                self._send(status, {"state": "success"} if status == 200 else {"detail": "x"})

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.settings = Settings(airflow_port=self.http.server_port, airflow_admin_password="p")

    def close(self):
        self.http.shutdown()


@pytest.fixture
def quick_polls(monkeypatch):
    monkeypatch.setattr(airflow_client.time, "sleep", lambda s: None)


def test_wait_rides_out_server_errors_and_returns_the_final_state(quick_polls):
    fake = FakeAirflow([503, 502, 500])
    try:
        assert AirflowClient(fake.settings).wait("dag", "run") == "success"
        assert fake.calls == 4
    finally:
        fake.close()


def test_wait_stops_at_once_on_a_refusal(quick_polls):
    fake = FakeAirflow([404])
    try:
        with pytest.raises(AirflowError) as raised:
            AirflowClient(fake.settings).wait("dag", "run")
        assert raised.value.status == 404 and fake.calls == 1
    finally:
        fake.close()


def test_no_answer_at_all_is_an_airflow_error_after_the_grace(quick_polls, monkeypatch):
    monkeypatch.setattr(airflow_client, "UNANSWERED_GRACE_S", 0.0)
    closed = Settings(airflow_port=1, airflow_admin_password="p")  # nothing listens on port 1
    client = AirflowClient(closed, timeout_s=1)
    client._token = "t"
    with pytest.raises(AirflowError, match="did not answer"):
        client.wait("dag", "run")
