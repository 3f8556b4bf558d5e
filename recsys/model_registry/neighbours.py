"""Searches by a vector computed outside PostgreSQL (a playlist's centroid): the lyrics
embeddings of given songs, and the songs whose lyrics are nearest a query vector through
the HNSW index of ``model.lyrics_embeddings`` (cosine). The ALS side of the same searches
is ``vectors.item_vectors`` and ``vectors.nearest_items``.

Like every search of ``vectors``, it never returns a song taken down. Read-only.
"""

from __future__ import annotations

import numpy as np

from recsys.model_registry.vectors import _nearest, not_taken_down, parse_vector, vector_literal


def lyrics_vectors(conn, song_ids) -> dict[str, np.ndarray]:
    """{song: lyrics embedding} for the songs that have one."""
    rows = conn.execute(
        "select song_id, embedding::text from model.lyrics_embeddings where song_id = any(%s)",
        (list(song_ids),),
    ).fetchall()
    return {song: parse_vector(text) for song, text in rows}


def nearest_lyrics(
    conn, query: np.ndarray, exclude: list[str], candidates: int, ef_search: int
) -> list[tuple[str, float]]:
    """Songs whose lyrics embeddings are nearest ``query`` by cosine, as (song, cosine
    similarity), best first."""
    return _nearest(
        conn,
        "select l.song_id, 1 - (l.embedding <=> %(q)s::vector) from model.lyrics_embeddings as l"
        f" where l.song_id <> all(%(exclude)s) and {not_taken_down('l.song_id')}"
        " order by l.embedding <=> %(q)s::vector limit %(n)s",
        {"q": vector_literal(query), "exclude": exclude, "n": candidates},
        ef_search,
    )
