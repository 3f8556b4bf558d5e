"""The Kafka broker's set-up (recsysctl/stack/kafka.py), the parts that need no broker."""

import base64

from recsysctl.stack import kafka


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch):
    """kafka-storage format reads ``-t -xyz`` as an option and fails; an id of 16 random
    bytes starts with '-' once in 64 formats. The first of these uuids gives one."""
    dashed = base64.urlsafe_b64decode("-" + "A" * 21 + "==")
    plain = bytes(range(16))
    draws = iter([dashed, plain])

    class FakeUuid:
        def __init__(self, raw):
            self.bytes = raw

    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: FakeUuid(next(draws)))
    cluster_id = kafka.new_cluster_id()
    assert cluster_id == base64.urlsafe_b64encode(plain).decode().rstrip("=")
    assert not cluster_id.startswith("-") and len(cluster_id) == 22


def test_cluster_ids_are_kafka_s_shape():
    for _ in range(500):
        cluster_id = kafka.new_cluster_id()
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
