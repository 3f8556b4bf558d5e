"""What SQL analysts get: documented views, a read-only login, example queries that run."""

import re

import psycopg
import pytest

from recsys.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

VIEWS = (
    "top_songs_7d",
    "song_rank_history",
    "top_artists_7d",
    "daily_song_plays",
    "song_skip_rates",
    "genre_skip_rates",
    "new_songs_rising",
    "online_metrics_daily",
    "online_metrics_by_model",
)


@pytest.fixture(scope="module")
def analyst(postgres):
    settings = postgres
    with psycopg.connect(
        settings.dsn_for(settings.postgres_db, settings.analyst_user, settings.analyst_password),
        autocommit=True,
    ) as conn:
        yield conn


def example_queries() -> list[str]:
    text = (PROJECT_ROOT / "docs" / "analysts.md").read_text()
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def test_every_view_and_column_is_documented(postgres):
    with psycopg.connect(postgres.postgres_dsn) as conn:
        for view in VIEWS:
            comment = conn.execute(
                "select obj_description(%s::regclass, 'pg_class')", (f"analytics.{view}",)
            ).fetchone()[0]
            assert comment, f"analytics.{view} has no comment"
            undocumented = conn.execute(
                "select a.attname from pg_attribute as a where a.attrelid = %s::regclass"
                " and a.attnum > 0 and col_description(a.attrelid, a.attnum) is null",
                (f"analytics.{view}",),
            ).fetchall()
            assert undocumented == [], f"analytics.{view}: {undocumented}"


def test_analyst_reads_catalog_and_analytics(analyst):
    for view in VIEWS:
        analyst.execute(f"select * from analytics.{view} limit 1")
    analyst.execute("select count(*) from catalog.songs")
    analyst.execute("select count(*) from analytics.counter_runs")


@pytest.mark.parametrize(
    "statement",
    [
        "select * from model.anything",
        "select * from ops.alerts",
        "insert into catalog.artists (id, name, genre) values ('x', 'x', 'x')",
        "update catalog.songs set plays_7d = 0",
        "delete from analytics.counter_runs",
        "create table analytics.mine (x int)",
        "truncate analytics.song_daily_stats",
    ],
)
def test_analyst_cannot_reach_models_or_write(analyst, statement):
    for prefix in ("", "begin read write; "):  # not even after leaving read-only mode
        with pytest.raises(psycopg.errors.Error):
            analyst.execute(prefix + statement)
        analyst.execute("rollback")


@pytest.fixture(scope="module")
def online_day(postgres):
    """A day of online metrics as the online_metrics DAG writes them (the demo data has no
    answers a day old yet), removed afterwards."""
    with psycopg.connect(postgres.postgres_dsn, autocommit=True) as conn:
        conn.execute(
            "insert into analytics.online_metrics values ('2096-01-01', 'home', 1, null, null,"
            " 4, 40, 30, 12, 9, 6, 2, 1, 0, 1500, now())"
        )
    yield
    with psycopg.connect(postgres.postgres_dsn, autocommit=True) as conn:
        conn.execute("delete from analytics.online_metrics where day = '2096-01-01'")


@pytest.mark.parametrize("query", example_queries(), ids=lambda q: q.split("\n")[0][:40])
def test_documented_example_queries_run_as_the_analyst(analyst, query, trending_day, online_day):
    rows = analyst.execute(query).fetchall()
    assert rows, "the example should answer something on the demo data"
