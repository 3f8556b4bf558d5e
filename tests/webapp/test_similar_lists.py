"""Similar songs computed ahead (recsys.model_registry.similar_lists, the similar_songs DAG's
task) against the real PostgreSQL + pgvector, on a model whose vectors the test knows:
a stored list gives exactly the answer a search gives (checked by brute force, as
test_song_radio checks the searched answer), is read only while the model and the lyrics it
was computed under are served, loses songs taken down since, and a refresh is idempotent,
never serves a run killed half-way nor one computed under a pair that moved."""

from __future__ import annotations

import pytest

from recsys import db
from recsys.model_registry import similar_lists
from recsys.ranking import cap_per_artist
from tests.webapp.test_recs_api import expected_next, ids
from webapp import create_app
from webapp.services import similar_read

pytestmark = pytest.mark.integration

KNOWN_MODEL = {"seed": 13, "gaps": True}

API = "/api/v1"


@pytest.fixture
def fresh_app(app):
    """``fresh_app()``: a client of a new app over the module's settings (a worker that
    kept no list yet, as after a deployment)."""
    apps = []

    def make():
        apps.append(create_app(app.config["RECSYS"]))
        return apps[-1].test_client()

    yield make
    for made in apps:
        made.extensions["recsys"].close()


@pytest.fixture
def clean_lists(postgres, model):
    """No stored lists before and after the test."""
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute("delete from model.similar_list_runs")
    yield
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute("delete from model.similar_list_runs")


def from_store(settings, song) -> bool:
    """Whether the endpoint reads ``song``'s candidates from a stored list (a worker keeping
    none), not searching."""
    with db.connect(settings) as conn:
        return similar_read._read(conn, settings, song, None)[7]


def lyrics_version(settings) -> int:
    with db.connect(settings) as conn:
        return similar_lists.served_pair(conn)[1]


def start_run(conn, settings, version, lyrics) -> int:
    """A run's row as a refresh starts it, under the app's search settings."""
    pool, ef = settings.recs_candidate_pool, settings.hnsw_ef_search
    return similar_lists.start_run(conn, version, lyrics, pool, ef)


def expected(model, seed, limit=10, gone=()):
    ranked, _ = expected_next(model, seed, set())
    return cap_per_artist([s for s in ranked if s not in gone], model.artist_of.get, limit, 2)


def test_stored_lists_give_the_answers_a_search_gives(app, model, fresh_app, clean_lists):
    settings = app.config["RECSYS"]
    done = similar_lists.refresh(settings)
    served = set(model.items) | set(model.lyrics)
    assert (done.status, done.model_version, done.songs) == ("complete", model.version,
                                                             len(served))  # fmt: skip
    seeds = [*sorted(model.items)[30:34], model.no_lyrics_song, model.no_als_song]
    client = fresh_app()
    for seed in seeds:
        assert from_store(settings, seed)
        response = client.get(f"{API}/songs/{seed}/similar?limit=10")
        assert response.status_code == 200, response.json
        assert ids(response) == expected(model, seed)[:10], seed
        _, scores = expected_next(model, seed, set())
        for item in response.json["items"]:
            assert item["score"] == pytest.approx(scores[item["song_id"]], abs=1e-4)
        second = client.get(f"{API}/songs/{seed}/similar?limit=10&offset=10")
        assert ids(second) == expected(model, seed)[10:20]
    # a refresh with the lists current does nothing
    again = similar_lists.refresh(settings)
    assert (again.status, again.run_id, again.songs) == ("current", done.run_id, done.songs)


def test_songs_taken_down_since_leave_a_stored_list(app, model, fresh_app, clean_lists):
    settings = app.config["RECSYS"]
    seed = sorted(model.items)[35]
    similar_lists.refresh(settings)
    first = ids(fresh_app().get(f"{API}/songs/{seed}/similar?limit=5"))
    with db.connect(settings, autocommit=True) as conn:
        conn.execute("update catalog.songs set taken_down_at = now() where id = %s", (first[0],))
    try:
        assert from_store(settings, seed)  # the list stays current: the model did not move
        after = ids(fresh_app().get(f"{API}/songs/{seed}/similar?limit=5"))
        assert first[0] not in after
        assert after == expected(model, seed, 5, gone={first[0]})[:5]
    finally:
        with db.connect(settings, autocommit=True) as conn:
            conn.execute("update catalog.songs set taken_down_at = null where id = %s",
                         (first[0],))  # fmt: skip


def test_a_stored_list_is_not_read_once_the_lyrics_move(app, model, fresh_app, clean_lists):
    settings = app.config["RECSYS"]
    seed = sorted(model.items)[36]
    first = similar_lists.refresh(settings)
    before = lyrics_version(settings)
    with db.connect(settings, autocommit=True) as conn:
        # a statement that changes no vector does not move the lyrics version
        conn.execute("delete from model.lyrics_embeddings where song_id = 'no such song'")
        conn.execute("update model.lyrics_embeddings set lyrics_md5 = lyrics_md5 where false")
    assert lyrics_version(settings) == before and from_store(settings, seed)
    with db.connect(settings, autocommit=True) as conn:  # one vector rewritten, the same
        conn.execute(
            "update model.lyrics_embeddings set embedded_at = now() where song_id = %s", (seed,)
        )
    assert lyrics_version(settings) == before + 1
    assert not from_store(settings, seed)  # the endpoint searches again, with the same answer
    answer = fresh_app().get(f"{API}/songs/{seed}/similar?limit=10")
    assert ids(answer) == expected(model, seed)[:10]
    second = similar_lists.refresh(settings)
    assert second.status == "complete" and second.run_id != first.run_id
    assert from_store(settings, seed)
    with db.connect(settings) as conn:  # the version's earlier lists went with it
        runs = conn.execute("select id, status from model.similar_list_runs").fetchall()
    assert runs == [(second.run_id, "complete")]


def test_a_list_of_another_model_version_is_not_read(app, model, clean_lists):
    settings = app.config["RECSYS"]
    seed = sorted(model.items)[37]
    done = similar_lists.refresh(settings)
    with db.connect(settings, autocommit=True) as conn:
        conn.execute(
            "update model.similar_list_runs set model_version = model_version + 1000 where id = %s",
            (done.run_id,),
        )
    assert not from_store(settings, seed)


def test_a_killed_refresh_is_never_served_and_the_next_one_clears_it(app, model, clean_lists):
    settings = app.config["RECSYS"]
    seed = sorted(model.items)[38]
    with db.connect(settings, autocommit=True) as conn:
        killed = start_run(conn, settings, *similar_lists.served_pair(conn))
        conn.execute(
            "insert into model.similar_lists values (%s, %s, '{x}', '{1}', '{1}')",
            (killed, seed),
        )
    assert not from_store(settings, seed)  # a running run's rows are never read
    done = similar_lists.refresh(settings)
    assert done.status == "complete"
    with db.connect(settings) as conn:
        assert conn.execute(
            "select count(*) from model.similar_list_runs where id = %s", (killed,)
        ).fetchone() == (0,)
    assert from_store(settings, seed)


def test_a_refresh_whose_pair_moved_while_it_ran_is_not_served(app, model, clean_lists):
    """The lists computed under lyrics that were replaced meanwhile: no song gets a row and
    the run is marked stale."""
    settings = app.config["RECSYS"]
    seed = sorted(model.items)[39]
    with db.connect(settings, autocommit=True) as conn:
        version, lyrics = similar_lists.served_pair(conn)
        run = start_run(conn, settings, version, lyrics - 1)
        params = {"run": run, "version": version, "lyrics_version": lyrics - 1,
                  "n": settings.recs_candidate_pool}  # fmt: skip
        written = similar_lists._compute(settings, [seed], params, 1, 10)
        assert written == 0
        result = similar_lists._publish(conn, run, version, lyrics - 1, 1, written)
        assert result.status == "stale"
        status = conn.execute(
            "select status from model.similar_list_runs where id = %s", (run,)
        ).fetchone()
    assert status == ("stale",) and not from_store(settings, seed)
