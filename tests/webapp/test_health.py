"""GET /healthz over the real PostgreSQL, Kafka and Redis: the served model version comes from
the model registry."""

import pytest

from recsys import db
from recsys import model_registry as registry

pytestmark = pytest.mark.integration


def test_healthz_reports_every_dependency_and_the_served_version(client, als_model, settings):
    answer = client.get("/healthz")

    body = answer.get_json()
    assert answer.status_code == 200
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "postgres": "ok",
        "kafka": "ok",
        "redis": "ok",
        "model": "ok",
    }
    with db.connect(settings) as conn:
        assert body["checks"]["model"]["version"] == registry.active_version(conn) == als_model
    assert body["status"] == "ok"
