import datetime as dt

import pytest

from spark_jobs.common import lake

DAY = dt.date(2026, 3, 1)
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def lake_row(
    event_id, user, track, action, duration, appended, day=DAY, total=200, playback_id=None
):
    """One lake row; ``appended`` is minutes after T0 (the broker's append time)."""
    ts = int(dt.datetime.combine(day, dt.time(11), dt.UTC).timestamp() * 1000)
    return (
        event_id,
        user,
        track,
        ts,
        action,
        duration,
        total,
        "simulation",
        playback_id,
        None,
        None,
        None,
        0,
        0,
        T0 + dt.timedelta(minutes=appended),
        day,
    )


@pytest.fixture
def make_lake(spark):
    def build(rows):
        return spark.createDataFrame(rows, lake.LAKE_SCHEMA)

    return build
