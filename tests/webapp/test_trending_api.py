"""GET /api/v1/trending and /trending/history against the real warehouse tables."""

import pytest

from recsys import db

pytestmark = pytest.mark.integration


def latest_snapshot(settings):
    """The newest snapshot in the table: ``trending_day`` or, when the suite runs between
    midnight and 00:30 UTC, a later day another module resynced."""
    with db.connect(settings) as conn:
        newest = conn.execute("select max(snapshot_date) from analytics.trending_history")
        return newest.fetchone()[0]


def test_current_snapshot_pages_without_overlap(client, trending_day, settings):
    first = client.get("/api/v1/trending?limit=5").get_json()
    second = client.get("/api/v1/trending?limit=5&offset=5").get_json()
    latest = latest_snapshot(settings)
    assert latest >= trending_day
    assert first["snapshot_date"] == latest.isoformat()
    assert [i["rank"] for i in first["items"]] == [1, 2, 3, 4, 5]
    assert [i["rank"] for i in second["items"]] == [6, 7, 8, 9, 10]
    with db.connect(settings) as conn:
        expected = conn.execute(
            "select song_id, plays_7d, rank_change from analytics.trending_history"
            " where snapshot_date = %s order by rank limit 5",
            (latest,),
        ).fetchall()
    assert [(i["song_id"], i["plays_7d"], i["rank_change"]) for i in first["items"]] == expected
    assert first["total"] >= 10 and {"title", "artist", "previous_rank"} <= first["items"][0].keys()


def test_song_history_lists_each_snapshot(client, trending_day, settings):
    top = client.get("/api/v1/trending?limit=1").get_json()["items"][0]
    body = client.get(f"/api/v1/trending/history?song_id={top['song_id']}").get_json()
    assert body["song_id"] == top["song_id"]
    assert body["items"][0] == {
        "snapshot_date": latest_snapshot(settings).isoformat(),
        "rank": 1,
        "plays_7d": top["plays_7d"],
        "listeners_7d": top["listeners_7d"],
        "previous_rank": top["previous_rank"],
        "rank_change": top["rank_change"],
    }
    dates = [i["snapshot_date"] for i in body["items"]]
    assert dates == sorted(dates, reverse=True) and len(dates) == body["total"]


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/api/v1/trending?limit=0", 400, "limit"),
        ("/api/v1/trending?limit=abc", 400, "limit"),
        ("/api/v1/trending?offset=-1", 400, "offset"),
        ("/api/v1/trending/history", 400, "song_id"),
        ("/api/v1/trending/history?song_id=no-such-song", 404, "song_id"),
    ],
)
def test_bad_parameters_are_named(client, trending_day, url, status, field):
    response = client.get(url)
    assert response.status_code == status
    assert response.get_json()["errors"][0]["field"] == field
