"""land_events transforms: parsing Kafka records, routing what breaks the contract aside."""

import datetime as dt
import json

import pytest
from pyspark.sql import types as T

from spark_jobs import land_events

pytestmark = pytest.mark.integration

KAFKA_SCHEMA = T.StructType(
    [
        T.StructField("key", T.BinaryType()),
        T.StructField("value", T.BinaryType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("timestamp", T.TimestampType()),
    ]
)
APPENDED = dt.datetime(2026, 3, 2, 0, 5, tzinfo=dt.UTC)


def record(value, offset):
    payload = value if isinstance(value, bytes) else json.dumps(value).encode()
    return (b"u1", payload, 0, offset, APPENDED)


def event(**overrides):
    base = {
        "event_id": "6f1c5a3e-1a7a-4d8e-9a51-0c1f7e0d9b10",
        "user_id": "u1",
        "track_id": "s1",
        "timestamp": 1772409540000,  # 2026-03-01T23:59:00Z
        "action": "listen",
        "duration": 40,
        "total_duration": 200,
        "source": "real_user",
    }
    base.update(overrides)
    return base


def test_valid_events_land_with_kafka_coordinates_and_event_day(spark):
    records = spark.createDataFrame([record(event(), 7)], KAFKA_SCHEMA)
    rows = land_events.to_lake_rows(land_events.parse_kafka_records(records)).collect()
    assert len(rows) == 1
    row = rows[0].asDict()
    assert row["event_id"] == event()["event_id"]
    assert (row["kafka_partition"], row["kafka_offset"]) == (0, 7)
    assert row["date"] == dt.date(2026, 3, 1)  # the event's day, not the arrival day
    assert row["playback_id"] is None  # optional: most clients send none


def test_where_a_song_was_played_from_lands_with_its_event(spark):
    rec = "2c3e4b5a-6d7f-4a81-9b2c-0d1e2f3a4b5c"
    sent = event(rec_id=rec, surface="up_next", position=4)
    records = spark.createDataFrame(
        [record(sent, 9), record(event(event_id=rec), 10)], KAFKA_SCHEMA
    )
    rows = land_events.to_lake_rows(land_events.parse_kafka_records(records)).collect()
    assert [(r.rec_id, r.surface, r.position) for r in rows] == [
        (rec, "up_next", 4),
        (None, None, None),
    ]


def test_a_playback_id_lands_with_its_event(spark):
    playback = "0b7e4c1a-9f0e-4c55-8d55-3f3b0a7f2c01"
    records = spark.createDataFrame([record(event(playback_id=playback), 8)], KAFKA_SCHEMA)
    rows = land_events.to_lake_rows(land_events.parse_kafka_records(records)).collect()
    assert [r.playback_id for r in rows] == [playback]


def test_records_breaking_the_contract_are_kept_aside_not_dropped(spark):
    bad = [b"not json", event(action="pause"), event(duration=500), event(event_id=None)]
    records = spark.createDataFrame([record(v, i) for i, v in enumerate(bad)], KAFKA_SCHEMA)
    parsed = land_events.parse_kafka_records(records)
    assert land_events.to_lake_rows(parsed).count() == 0
    rejected = land_events.to_rejected_rows(parsed).collect()
    assert sorted(r.kafka_offset for r in rejected) == [0, 1, 2, 3]
    assert rejected[0].raw_value is not None
