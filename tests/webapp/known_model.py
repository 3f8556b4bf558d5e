"""A model whose vectors the tests know, for the webapp's tests (tests/webapp/conftest.py puts
one in place for a module): random ALS vectors for the demo world's listeners and songs and,
unless told otherwise, random lyrics vectors, written as a gate-passed version and served.
Each answer can then be checked against the formulas computed here by brute force."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from recsys import model_registry as registry

RANK, LYRICS_DIM = 8, 384
DAY = dt.date(2026, 3, 1)


@dataclasses.dataclass(frozen=True)
class KnownModel:
    version: int
    users: dict[str, np.ndarray]
    items: dict[str, np.ndarray]
    lyrics: dict[str, np.ndarray]
    artist_of: dict[str, str]
    genre_of: dict[str, str]
    cold_user: str | None = None
    no_lyrics_song: str | None = None
    no_als_song: str | None = None

    def scores(self, query: np.ndarray) -> dict[str, float]:
        return {song: float(vector @ query) for song, vector in self.items.items()}


def literal(vector: np.ndarray) -> str:
    """A vector as pgvector reads it."""
    return "[" + ",".join(map(repr, np.asarray(vector, dtype=np.float64).tolist())) + "]"


def write_known_model(
    conn, world, seed: int, *, gaps: bool = False, lyrics: bool = True, serve: bool = True
) -> KnownModel:
    """A model of random vectors drawn from ``seed`` for every world song and listener, the
    run passed (with the metrics a real run records: the admin page charts both lines of
    every version) and, if ``serve``, activated.

    ``gaps``: the last listener has no vector (``cold_user``), the last song no ALS vector
    (``no_als_song``) and the one before no lyrics vector (``no_lyrics_song``).
    ``lyrics``: the lyrics embeddings (which are not per version) are replaced by random ones
    for every world song; otherwise they are left as they are and ``lyrics`` is empty.
    """
    rng = np.random.default_rng(seed)
    songs = [s["id"] for s in world.songs]
    users = [u["id"] for u in world.users]
    cold_user = no_als_song = no_lyrics_song = None
    if gaps:
        cold_user, no_als_song, no_lyrics_song = users[-1], songs[-1], songs[-2]
    items = {s: rng.normal(size=RANK) for s in songs if s != no_als_song}
    user_vectors = {u: rng.normal(size=RANK) for u in users if u != cold_user}
    lyric_vectors = {}
    if lyrics:
        lyric_vectors = {s: rng.normal(size=LYRICS_DIM) for s in songs if s != no_lyrics_song}
    version = registry.create_run(
        conn, DAY, DAY + dt.timedelta(days=90), DAY + dt.timedelta(days=83), {"rank": RANK}, None
    )
    with conn.transaction():
        registry.write_factors(
            conn,
            version,
            list(user_vectors),
            np.array(list(user_vectors.values())),
            list(items),
            np.array(list(items.values())),
        )
        if lyrics:
            conn.execute("delete from model.lyrics_embeddings")
            with conn.cursor().copy(
                "copy model.lyrics_embeddings (song_id, lyrics_md5, embedding) from stdin"
            ) as copy:
                for song, vector in lyric_vectors.items():
                    copy.write_row((song, "test", literal(vector)))
    metrics = {"model": {"ndcg": 0.5, "k": 10}, "popularity": {"ndcg": 0.2, "k": 10}}
    registry.finish_run(conn, version, "passed", metrics=metrics)
    if serve:
        registry.activate(conn, version, by="tests")
    # float32 as stored, so expectations use the served numbers
    as32 = lambda d: {k: v.astype(np.float32).astype(np.float64) for k, v in d.items()}  # noqa: E731
    return KnownModel(
        version,
        as32(user_vectors),
        as32(items),
        as32(lyric_vectors),
        {s["id"]: s["artist_id"] for s in world.songs},
        {s["id"]: s["genre"] for s in world.songs},
        cold_user,
        no_lyrics_song,
        no_als_song,
    )
