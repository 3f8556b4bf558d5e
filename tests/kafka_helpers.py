"""Reading the real test broker: how many records a topic holds, and what they are; and
the event most tests send."""

from __future__ import annotations

import json
import time
import uuid

from kafka import KafkaConsumer, TopicPartition


def end_offsets(settings, topic: str | None = None) -> dict[int, int]:
    """The end offset of each partition of ``topic`` (default: the events topic)."""
    topic = topic or settings.kafka_topic
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return {tp.partition: off for tp, off in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def records_since(settings, start: dict[int, int], topic: str | None = None) -> list[dict]:
    """Every record of ``topic`` (default: the events topic) appended after the ``start``
    offsets, decoded."""
    topic = topic or settings.kafka_topic
    end = end_offsets(settings, topic)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    out = []
    try:
        partitions = [TopicPartition(topic, p) for p in end]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, start.get(tp.partition, 0))
        remaining = sum(end[p] - start.get(p, 0) for p in end)
        for message in consumer:
            out.append({**json.loads(message.value), "_key": message.key.decode()})
            remaining -= 1
            if remaining <= 0:
                break
    finally:
        consumer.close()
    return out


def completed_playback(user_id: str, song: dict) -> dict:
    """A new event: ``user_id`` heard all of ``song`` (a demo world song) just now."""
    return {
        "event_id": str(uuid.uuid4()),
        "user_id": user_id,
        "track_id": song["id"],
        "timestamp": int(time.time() * 1000),
        "action": "complete",
        "duration": song["duration_s"],
        "total_duration": song["duration_s"],
        "source": "simulation",
    }
