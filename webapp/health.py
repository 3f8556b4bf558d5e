"""GET /healthz: the state of every dependency, for operators and load balancers.

200 when the app can capture events (PostgreSQL and Kafka up), 503 otherwise; Redis or a
missing model only degrade serving and are reported without failing the check. ``auth``
says whether listeners must prove who they are; open mode is marked with a warning.
"""

from __future__ import annotations

import socket

import psycopg
from flask import Blueprint, current_app, jsonify

from recsys import model_registry as registry
from webapp.resources import resources

health = Blueprint("health", __name__)


def _postgres(res) -> tuple[dict, dict]:
    try:
        with res.pool.connection(timeout=2) as conn:
            conn.execute("select 1")
            try:
                version = registry.active_version(conn)
            except psycopg.errors.UndefinedTable:
                return {"status": "ok"}, {"status": "absent", "detail": "no model trained yet"}
        model_state = {"status": "ok", "version": version} if version else {"status": "absent"}
        return {"status": "ok"}, model_state
    except Exception as err:
        return {"status": "down", "detail": str(err)[:200]}, {"status": "unknown"}


def _redis(res) -> dict:
    try:
        res.redis.ping()
        return {"status": "ok"}
    except Exception as err:
        return {"status": "down", "detail": str(err)[:200]}


def _kafka(res) -> dict:
    try:
        producer = res.producer
        partitions = producer.partitions_for(res.settings.kafka_topic)
        if not partitions:
            return {"status": "down", "detail": f"topic {res.settings.kafka_topic} not found"}
        brokers = res.settings.kafka_bootstrap_servers.split(",")
        if not any(_accepts(*_host_port(b)) for b in brokers):
            return {"status": "down", "detail": "no broker accepts connections"}
        return {"status": "ok", "partitions": len(partitions)}
    except Exception as err:
        return {"status": "down", "detail": str(err)[:200]}


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    return host, int(port)


@health.get("/healthz")
def healthz():
    res = resources()
    postgres, model = _postgres(res)
    checks = {"postgres": postgres, "kafka": _kafka(res), "redis": _redis(res), "model": model}
    essential_ok = postgres["status"] == "ok" and checks["kafka"]["status"] == "ok"
    degraded = checks["redis"]["status"] != "ok" or model["status"] != "ok"
    status = "down" if not essential_ok else ("degraded" if degraded else "ok")
    return jsonify({"status": status, "checks": checks, "auth": auth_state()}), (
        200 if essential_ok else 503
    )


OPEN_WARNING = "OPEN MODE: anyone may read and write as any listener (RECSYS_AUTH_MODE=open)"


def auth_state() -> dict:
    settings = current_app.config["RECSYS"]
    state = {"mode": settings.auth_mode, "demo_signin": settings.auth_demo_signin}
    if settings.auth_mode == "open":
        state["warning"] = OPEN_WARNING
    return state
