"""Shared by the tests of a changing catalog while serving (new songs, takedowns): songs added
through the admin API after the served known model (known_model.py) was trained, and lyrics
vectors written as the lyrics_embeddings job would."""

from __future__ import annotations

import numpy as np

from tests.webapp.known_model import literal

NEW_PREFIX = "new-"


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
