"""Shared by the tests of a changing catalog while serving (new songs, takedowns): a served
model whose vectors the test knows, songs added through the admin API after it was trained,
and lyrics vectors written as the lyrics_embeddings job would."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from recsys import model_registry as registry

RANK, LYRICS_DIM = 8, 384
DAY = dt.date(2026, 4, 1)
NEW_PREFIX = "new-"


@dataclass
class ServedModel:
    version: int
    items: dict[str, np.ndarray]
    lyrics: dict[str, np.ndarray]


def literal(vector: np.ndarray) -> str:
    return "[" + ",".join(map(repr, np.asarray(vector, dtype=np.float64).tolist())) + "]"


def serve_random_model(conn, world, seed: int, replace_lyrics: bool = True) -> ServedModel:
    """A model of random vectors for every world song and listener, served now; unless told
    otherwise, the lyrics embeddings replaced by random ones for every world song."""
    rng = np.random.default_rng(seed)
    songs = [s["id"] for s in world.songs]
    users = [u["id"] for u in world.users]
    items = {s: rng.normal(size=RANK) for s in songs}
    lyrics = {s: rng.normal(size=LYRICS_DIM) for s in songs}
    version = registry.create_run(
        conn, DAY, DAY + dt.timedelta(days=90), DAY + dt.timedelta(days=83), {"rank": RANK}, None
    )
    with conn.transaction():
        registry.write_factors(
            conn,
            version,
            users,
            rng.normal(size=(len(users), RANK)),
            songs,
            np.array([items[s] for s in songs]),
        )
        if replace_lyrics:
            conn.execute("delete from model.lyrics_embeddings")
            with conn.cursor().copy(
                "copy model.lyrics_embeddings (song_id, lyrics_md5, embedding) from stdin"
            ) as copy:
                for song, vector in lyrics.items():
                    copy.write_row((song, "test", literal(vector)))
    # the metrics a real run records (the admin page charts both lines of every version)
    metrics = {"model": {"ndcg": 0.5, "k": 10}, "popularity": {"ndcg": 0.2, "k": 10}}
    registry.finish_run(conn, version, "passed", metrics=metrics)
    registry.activate(conn, version, by="tests")
    return ServedModel(version, items, lyrics)


def embed(conn, song_id: str, vector: np.ndarray) -> None:
    """A lyrics vector for the song, as the lyrics_embeddings job writes it."""
    conn.execute(
        "insert into model.lyrics_embeddings (song_id, lyrics_md5, embedding)"
        " values (%s, 'test', %s)"
        " on conflict (song_id) do update set embedding = excluded.embedding",
        (song_id, literal(vector)),
    )


def catalog_row(song_id: str, title: str, artist_id: str, artist: str, genre: str) -> dict:
    return {
        "song_id": song_id,
        "title": title,
        "artist_id": artist_id,
        "artist": artist,
        "genres": [genre],
        "duration_s": 200,
        "lyrics": f"{title} by the window, {title} in the rain",
    }


def remove_new_songs(conn) -> None:
    with conn.transaction():
        conn.execute("delete from catalog.songs where id like %s", (NEW_PREFIX + "%",))
        conn.execute(
            "delete from catalog.artists as a where a.id like %s and not exists"
            " (select 1 from catalog.songs as s where s.artist_id = a.id)",
            (NEW_PREFIX + "%",),
        )
