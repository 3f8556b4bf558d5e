"""Playlist suggestions: songs that fit a playlist, not already in it, with reasons.

Candidates come from pgvector's HNSW indexes near the playlist's centroid: the
``recs_candidate_pool`` nearest ALS item vectors to the unit mean of its songs' item vectors
(inner product), and as many nearest lyrics to the mean of its songs' unit lyrics vectors
(cosine); songs taken down and the playlist's own songs are never candidates, nor songs the
playlist's owner disliked. They are ranked by recsys.continuation.rank (the formula is its
docstring: both signals min-max normalised over the candidates and blended as next songs are,
``next_song_als_weight``; artists capped per page, ``recs_max_per_artist``; each with the
playlist song it is most like).

A long playlist is represented by its last ``SEED_SONGS`` songs (by position): the end of a
playlist is where it is going, and it bounds the vectors read per request.

Reads catalog.playlist_songs, catalog.songs, catalog.artists, catalog.song_feedback, the
active model and the lyrics embeddings.
"""

from __future__ import annotations

import numpy as np

from recsys import continuation
from recsys import model_registry as registry
from recsys.model_registry import neighbours, vectors
from recsys.settings import Settings
from webapp.services.feedback import disliked_sql
from webapp.services.recs import song_details

SEED_SONGS = 500
_DISLIKED_SONGS, _ = disliked_sql("%s")


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector


def suggest(conn, settings: Settings, playlist: dict, limit: int, offset: int) -> dict:
    """A page ``[offset, offset + limit)`` of suggestions for ``playlist`` (its details, as
    webapp.services.playlists gives them)."""
    pool, ef = settings.recs_candidate_pool, settings.hnsw_ef_search
    with conn.transaction():
        registry.hold_active_model(conn)
        held = [
            r[0]
            for r in conn.execute(
                "select song_id from catalog.playlist_songs where playlist_id = %s"
                " order by position",
                (playlist["id"],),
            )
        ]
        disliked = conn.execute(f"select {_DISLIKED_SONGS}", (playlist["user_id"],)).fetchone()[0]
        seed = held[-SEED_SONGS:]
        version, items = vectors.item_vectors(conn, seed)
        lyrics = neighbours.lyrics_vectors(conn, seed)
        exclude = [*held, *disliked]
        found: list[str] = []
        if items and version is not None:
            query = _unit(np.mean([items[s] for s in seed if s in items], axis=0))
            found += [s for s, _ in vectors.nearest_items(conn, version, query, exclude, pool, ef)]
        if lyrics:
            query = np.mean([_unit(lyrics[s]) for s in seed if s in lyrics], axis=0)
            found += [s for s, _ in neighbours.nearest_lyrics(conn, query, exclude, pool, ef)]
        candidates = list(dict.fromkeys(found))
        _, candidate_items = vectors.item_vectors(conn, candidates)
        candidate_lyrics = neighbours.lyrics_vectors(conn, candidates)
    details, down = song_details(conn, [*candidates, *seed])
    ranked = continuation.rank(
        seed,
        [c for c in candidates if c not in down],
        {**items, **candidate_items},
        {**lyrics, **candidate_lyrics},
        {s: d["artist_id"] for s, d in details.items()},
        offset + limit,
        als_weight=settings.next_song_als_weight,
        max_per_artist=settings.recs_max_per_artist,
        page_size=limit,
        playlist_name=playlist["name"],
        titles={s: d["title"] for s, d in details.items()},
    )
    page = [
        {
            "rank": rank,
            **details[s.song_id],
            "score": round(s.score, 6),
            "als_score": round(s.als_score, 6),
            "content_score": round(s.lyrics_score, 6),
            "reason": {
                "kind": "fits_playlist",
                "song_id": s.like,
                "title": details.get(s.like, {}).get("title") if s.like else None,
                "text": s.reason,
            },
        }
        for rank, s in enumerate(ranked[offset:], start=offset + 1)
        if s.song_id in details
    ]
    return {"playlist_id": playlist["id"], "model_version": version, "limit": limit,
            "offset": offset, "items": page}  # fmt: skip
