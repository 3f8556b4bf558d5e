"""lyrics_embeddings: what needs embedding, and the job against real Spark, PostgreSQL and model.

The small demo world's lyrics mix words of their song's genre and mood, so a working
embedding puts songs of one genre nearer to each other than to other genres. Tests that
change a song's lyrics put them back, and each job test first runs the job to catch up:
the catalog is shared by the whole session.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
import pytest
from pyspark.errors import PythonException

from recsys import db
from recsys.embedding_model import DIMENSION, MODEL_NAME
from spark_jobs import lyrics_embeddings as job

pytestmark = pytest.mark.integration


def test_plan_sorts_songs_by_what_they_need():
    same = "oh yeah tonight"
    work = job.plan(
        [
            ("new", "guitar highway", None),
            ("same", same, job.lyrics_md5(same)),
            ("changed", "drum rumble", job.lyrics_md5("guitar highway")),
            ("none", None, None),
            ("blank", " \n ", None),
            ("lost", None, job.lyrics_md5(same)),
        ]
    )
    assert work.songs_total == 6
    assert [song for song, _, _ in work.to_embed] == ["new", "changed"]
    assert work.to_embed[1] == ("changed", job.lyrics_md5("drum rumble"), "drum rumble")
    assert (work.unchanged, work.without_lyrics, work.to_remove) == (1, 3, ["lost"])


def test_layout_uses_every_core_once_there_is_enough_work():
    assert job.encode_layout(3000, 2) == (2, 1)
    assert job.encode_layout(1, 2) == (1, 2)
    assert job.encode_layout(3000, 1) == (1, 1)


def test_vector_literals_are_pgvector_text():
    vectors = np.array([[0.5, -0.25], [1e-9, 3.0]], dtype=np.float32)
    sliced = job.vector_array(vectors)[1:]  # offsets no longer start at 0
    literals = job.vector_literals(pa.chunked_array([sliced]))
    assert literals.to_pylist() == ["[1e-9,3]"]


@pytest.fixture(scope="module")
def embedded(spark, settings, world):
    """The world's lyrics embedded once (later runs of the module only catch up)."""
    return job.run(spark, settings, dag_run_id="test_first_run")


def stored(settings) -> dict[str, tuple[str, np.ndarray, object]]:
    """song_id -> (lyrics_md5, vector, embedded_at) of every stored embedding."""
    with db.connect(settings) as conn:
        rows = conn.execute(
            "select song_id, lyrics_md5, embedding::text, embedded_at from model.lyrics_embeddings"
        ).fetchall()
    return {
        song: (md5, np.array(text[1:-1].split(","), dtype=np.float32), at)
        for song, md5, text, at in rows
    }


def unchanged(now: dict, before: dict) -> bool:
    """The same songs, each with the same hash, vector and embedded_at (nothing rewritten)."""
    return now.keys() == before.keys() and all(
        now[s][0] == before[s][0]
        and now[s][2] == before[s][2]
        and (now[s][1] == before[s][1]).all()
        for s in now
    )


def run_row(settings, run_id: int) -> tuple:
    with db.connect(settings) as conn:
        return conn.execute(
            "select dag_run_id, model_name, songs_total, songs_without_lyrics, songs_unchanged,"
            " songs_embedded, embeddings_removed, status, finished_at is not null, duration_s"
            " from model.embedding_runs where id = %s",
            (run_id,),
        ).fetchone()


@contextmanager
def lyrics_set_to(settings, changes: dict[str, str | None]):
    """Give songs other lyrics for the block, then put the lyrics back (the next run of the
    job re-embeds them)."""
    with db.connect(settings) as conn:
        original = dict(
            conn.execute(
                "select id, lyrics from catalog.songs where id = any(%s)", (list(changes),)
            ).fetchall()
        )
        for song, lyrics in changes.items():
            conn.execute("update catalog.songs set lyrics = %s where id = %s", (lyrics, song))
    try:
        yield
    finally:
        with db.connect(settings) as conn:
            for song, lyrics in original.items():
                conn.execute("update catalog.songs set lyrics = %s where id = %s", (lyrics, song))


def test_first_run_embeds_every_song_with_lyrics(settings, world, embedded):
    with_lyrics = [s["id"] for s in world.songs if s["lyrics"]]
    assert embedded.songs_total == len(world.songs) == 300
    assert embedded.songs_embedded + embedded.songs_unchanged == len(with_lyrics)
    assert sorted(stored(settings)) == sorted(with_lyrics)
    assert run_row(settings, embedded.run_id)[:8] == (
        "test_first_run",
        MODEL_NAME,
        300,
        300 - len(with_lyrics),
        embedded.songs_unchanged,
        embedded.songs_embedded,
        0,
        "succeeded",
    )


def test_rerun_embeds_nothing_new(spark, settings, embedded):
    job.run(spark, settings)  # catch up, whatever ran before
    before = stored(settings)
    report = job.run(spark, settings, dag_run_id="test_rerun")
    assert (report.songs_embedded, report.embeddings_removed) == (0, 0)
    assert report.songs_unchanged == len(before)
    assert unchanged(stored(settings), before), "nothing was rewritten"
    status, finished, duration = run_row(settings, report.run_id)[7:]
    assert (status, finished) == ("succeeded", True) and duration >= 0


def test_changed_lyrics_re_embed_only_that_song(spark, settings, world, embedded):
    job.run(spark, settings)
    songs = {s["id"]: s for s in world.songs if s["lyrics"]}
    target = next(iter(songs))
    # the lyrics of a song of another genre: the new vector must be that song's vector
    donor = next(s for s in songs.values() if s["genre"] != songs[target]["genre"])
    before = stored(settings)
    with lyrics_set_to(settings, {target: donor["lyrics"]}):
        report = job.run(spark, settings)
        after = stored(settings)
    assert report.songs_embedded == 1
    assert after[target][0] == job.lyrics_md5(donor["lyrics"]) != before[target][0]
    assert float(after[target][1] @ before[donor["id"]][1]) > 0.999
    assert float(after[target][1] @ before[target][1]) < 0.99
    assert after[target][2] > before[target][2]
    before_md5, before_vector = before[target][:2]
    del before[target], after[target]
    assert unchanged(after, before), "only the changed song was re-embedded"
    restored = job.run(spark, settings)
    assert restored.songs_embedded == 1
    assert stored(settings)[target][0] == before_md5
    assert float(stored(settings)[target][1] @ before_vector) > 0.999


def test_songs_without_lyrics_are_skipped_and_counted(spark, settings, world, embedded):
    job.run(spark, settings)
    missing = {s["id"] for s in world.songs if not s["lyrics"]}
    assert missing, "the small world has songs without lyrics"
    lost, blank = [s["id"] for s in world.songs if s["lyrics"]][:2]
    with lyrics_set_to(settings, {lost: None, blank: "  \n\t "}):
        report = job.run(spark, settings)
        now = stored(settings)
    assert report.songs_without_lyrics == len(missing) + 2
    assert (report.songs_embedded, report.embeddings_removed) == (0, 2)
    assert not (missing | {lost, blank}) & now.keys()
    assert report.songs_unchanged == 300 - len(missing) - 2 == len(now)
    assert run_row(settings, report.run_id)[3:7] == (len(missing) + 2, len(now), 0, 2)
    assert job.run(spark, settings).songs_embedded == 2  # lyrics back: embedded again


def test_a_failed_run_is_recorded_and_writes_nothing(spark, settings, world, embedded):
    job.run(spark, settings)
    target = next(s["id"] for s in world.songs if s["lyrics"])
    before = stored(settings)
    broken = dataclasses.replace(settings, embedding_batch_size=0)  # encode() cannot batch
    with lyrics_set_to(settings, {target: "guitar highway thunder"}):
        with pytest.raises(PythonException, match="batch_size must be a positive integer"):
            job.run(spark, broken, dag_run_id="test_failed_run")
        assert unchanged(stored(settings), before)
    with db.connect(settings) as conn:
        status, finished, embedded_count = conn.execute(
            "select status, finished_at is not null, songs_embedded from model.embedding_runs"
            " where dag_run_id = 'test_failed_run'"
        ).fetchone()
    assert (status, finished, embedded_count) == ("failed", True, None)


def test_vectors_are_384_d_unit_length_and_searched_through_hnsw(settings, embedded):
    with db.connect(settings) as conn:
        dims, norms = conn.execute(
            "select array_agg(distinct vector_dims(embedding)),"
            " array_agg(distinct round(vector_norm(embedding)::numeric, 3))"
            " from model.lyrics_embeddings"
        ).fetchone()
        probe = conn.execute("select embedding from model.lyrics_embeddings limit 1").fetchone()
        conn.execute("set enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "explain select song_id from model.lyrics_embeddings"
                " order by embedding <=> %s::vector limit 10",
                probe,
            )
        )
    assert dims == [DIMENSION]
    assert norms == [1]
    assert "lyrics_embeddings_hnsw" in plan


def test_songs_of_a_genre_are_nearer_each_other_than_other_genres(settings, world, embedded):
    genre = {s["id"]: s["genre"] for s in world.songs}
    vectors = stored(settings)
    songs = sorted(vectors)
    matrix = np.stack([vectors[s][1] for s in songs])
    labels = np.array([genre[s] for s in songs])
    similarity = matrix @ matrix.T  # unit vectors: cosine similarity
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(songs), dtype=bool)
    within = similarity[same & off_diagonal].mean()
    across = similarity[~same].mean()
    assert within > across + 0.05, (within, across)

    np.fill_diagonal(similarity, -np.inf)
    neighbour_agrees = (labels[similarity.argmax(axis=1)] == labels).mean()
    shares = np.array(list(Counter(labels).values())) / len(labels)
    chance = float((shares**2).sum())
    assert neighbour_agrees > max(0.5, 3 * chance), (neighbour_agrees, chance)
