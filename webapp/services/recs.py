"""Home-page and next-song recommendations (the serving rules of docs/serving.md).

Home: the session vector (``0.7 v_long + 0.3 v_short``) searched against the active model's
item factors by inner product. Next song: the current song's ALS neighbours and lyrics
neighbours, merged and scored ``0.6 norm(als) + 0.4 norm(content)``. Both exclude the song
playing and the listener's recent plays, cap songs per artist in a page, and fall back to
trending (genre-filtered for a cold start) instead of failing. Each answer names its mode
and what was degraded.

Reads catalog.users, catalog.songs, catalog.artists, the model tables (``vectors``) and the
session store; writes only the long-term vector cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recsys.settings import Settings
from webapp.services import vectors
from webapp.services.scoring import (
    cap_per_artist,
    hybrid_scores,
    session_vector,
    strongest_contributor,
)
from webapp.services.sessions import Session, SessionStore, SessionsUnavailable

# Recent songs considered when explaining a home recommendation.
REASON_SONGS = 10


class UnknownUser(LookupError):
    pass


class UnknownSong(LookupError):
    pass


@dataclass
class Ranked:
    """A scored candidate before the page is cut."""

    song_id: str
    score: float
    reason: dict
    extra: dict = field(default_factory=dict)


@dataclass
class Answer:
    mode: str
    degraded: list[str]
    model_version: int | None
    ranked: list[Ranked]


SONG_SQL = """
    select s.id, s.title, s.artist_id, a.name, s.genre, s.duration_s, s.image_url, s.audio_url
    from catalog.songs as s
    join catalog.artists as a on a.id = s.artist_id
    where s.id = any(%s)
"""


def song_details(conn, song_ids) -> dict[str, dict]:
    names = ("song_id", "title", "artist_id", "artist", "genre", "duration_s", "image_url",
             "audio_url")  # fmt: skip
    return {
        row[0]: dict(zip(names, row, strict=True))
        for row in conn.execute(SONG_SQL, (list(song_ids),))
    }


class Recommender:
    def __init__(self, settings: Settings, store: SessionStore):
        self.settings = settings
        self.store = store

    # -- shared steps -------------------------------------------------------------------
    def _listener(self, conn, user_id: str) -> tuple[list[str], int | None]:
        """(onboarding genres, the active model version) in one round trip."""
        row = conn.execute(
            "select u.onboarding_genres, (select version from model.active_model)"
            " from catalog.users as u where u.id = %s",
            (user_id,),
        ).fetchone()
        if row is None:
            raise UnknownUser(user_id)
        return list(row[0]), row[1]

    def _session(self, user_id: str, degraded: list[str]) -> Session:
        try:
            return self.store.session(user_id)
        except SessionsUnavailable:
            degraded.append("sessions_unavailable")
            return Session()

    def _long_term(self, conn, version: int, user_id: str) -> np.ndarray | None:
        if self.store.available():
            try:
                cached = self.store.cached_long_term(version, user_id)
                if cached is not False:
                    return cached
            except SessionsUnavailable:
                pass
        found_version, vector = vectors.user_vector(conn, user_id)
        if found_version not in (None, version):  # a swap between the two reads
            return None
        if self.store.available():
            try:
                self.store.cache_long_term(version, user_id, vector)
            except SessionsUnavailable:
                pass
        return vector

    def _trending(self, conn, genres: list[str], exclude: list[str]) -> list[Ranked]:
        """The most played songs of the last 7 days, only in ``genres`` when any are given."""
        rows = conn.execute(
            "select id, plays_7d from catalog.songs"
            " where id <> all(%s) and (cardinality(%s::text[]) = 0 or genre = any(%s))"
            " order by plays_7d desc, plays_cumulative desc, id limit %s",
            (exclude, genres, genres, self.settings.recs_candidate_pool),
        ).fetchall()
        reason = {"kind": "trending", "text": "Trending this week"}
        return [Ranked(r[0], float(r[1]), reason) for r in rows]

    def page(self, conn, answer: Answer, limit: int, offset: int) -> list[dict]:
        """The page ``[offset, offset + limit)`` of the capped order, with song details."""
        details = song_details(conn, [r.song_id for r in answer.ranked])
        ranked = [r for r in answer.ranked if r.song_id in details]
        ordered = cap_per_artist(
            ranked,
            lambda r: details[r.song_id]["artist_id"],
            limit,
            self.settings.recs_max_per_artist,
        )
        items = []
        for position, r in enumerate(ordered[offset : offset + limit], start=offset + 1):
            items.append(
                {
                    "rank": position,
                    **details[r.song_id],
                    "score": round(r.score, 6),
                    **r.extra,
                    "reason": r.reason,
                }
            )
        return items

    # -- home ---------------------------------------------------------------------------
    def home(self, conn, user_id: str) -> Answer:
        s = self.settings
        genres, version = self._listener(conn, user_id)
        degraded: list[str] = []
        session = self._session(user_id, degraded)
        if version is None:
            degraded.append("no_active_model")
            return Answer("trending", degraded, None, self._trending(conn, genres, session.recent))
        long_term = self._long_term(conn, version, user_id)
        short_term = session.short_term if session.short_term_version == version else None
        query = session_vector(long_term, short_term, s.recs_long_term_weight)
        if query is None:
            return Answer(
                "trending", degraded, version, self._trending(conn, genres, session.recent)
            )
        mode = (
            "session"
            if long_term is not None and short_term is not None
            else "long_term"
            if long_term is not None
            else "short_term"
        )
        nearest = vectors.nearest_items(
            conn, query, session.recent, s.recs_candidate_pool, s.hnsw_ef_search
        )
        explain = self._explainer(conn, session, short_term is not None, [i for i, _ in nearest])
        ranked = [Ranked(song, score, explain(song)) for song, score in nearest]
        ranked.sort(key=lambda r: (-r.score, r.song_id))
        return Answer(mode, degraded, version, ranked)

    def _explainer(self, conn, session: Session, uses_short_term: bool, song_ids: list[str]):
        """reason(song): the recent song contributing most to its score through v_short, or
        the listener's long-term taste."""
        taste = {"kind": "taste", "text": "Picked for your taste"}
        heard = session.heard[:REASON_SONGS] if uses_short_term else []
        if not heard:
            return lambda song: taste
        _, found = vectors.item_vectors(conn, [*heard, *song_ids])
        recent = [(h, found[h]) for h in heard if h in found]
        titles = {k: v["title"] for k, v in song_details(conn, [h for h, _ in recent]).items()}

        def explain(song: str) -> dict:
            source = (
                strongest_contributor(found[song], recent, self.settings.session_ema_weight)
                if song in found
                else None
            )
            if source is None:
                return taste
            return {
                "kind": "because_you_listened",
                "song_id": source,
                "title": titles.get(source),
                "text": f"Because you listened to {titles.get(source, source)}",
            }

        return explain

    # -- next song ----------------------------------------------------------------------
    def next_songs(self, conn, user_id: str, song_id: str) -> Answer:
        s = self.settings
        genres, version = self._listener(conn, user_id)
        current = song_details(conn, [song_id]).get(song_id)
        if current is None:
            raise UnknownSong(song_id)
        degraded: list[str] = []
        session = self._session(user_id, degraded)
        exclude = list(dict.fromkeys([song_id, *session.recent]))
        als_vector = None
        if version is None:
            degraded.append("no_active_model")
        else:
            _, found = vectors.item_vectors(conn, [song_id])
            als_vector = found.get(song_id)
        lyrics_vector = vectors.lyrics_vectors(conn, [song_id]).get(song_id)
        if als_vector is None and lyrics_vector is None:
            genre_first = [current["genre"], *genres]
            return Answer("trending", degraded, version, self._trending(conn, genre_first, exclude))

        pool, ef = s.recs_candidate_pool, s.hnsw_ef_search
        als = (
            dict(vectors.nearest_items(conn, als_vector, exclude, pool, ef))
            if als_vector is not None
            else {}
        )
        content = (
            dict(vectors.nearest_lyrics(conn, lyrics_vector, exclude, pool, ef))
            if lyrics_vector is not None
            else {}
        )
        merged = sorted(set(als) | set(content))
        # every merged candidate gets both exact scores where it has the vectors
        if als_vector is not None:
            _, found = vectors.item_vectors(conn, [m for m in merged if m not in als])
            als.update({k: float(np.dot(v, als_vector)) for k, v in found.items()})
        if lyrics_vector is not None:
            found = vectors.lyrics_vectors(conn, [m for m in merged if m not in content])
            content.update({k: _cosine(v, lyrics_vector) for k, v in found.items()})
        w = s.next_song_als_weight
        scores = hybrid_scores(als, content, w)
        title = current["title"]
        similar = {"kind": "similar_lyrics", "song_id": song_id, "title": title,
                   "text": f"Similar lyrics to {title}"}  # fmt: skip
        listened = {"kind": "because_you_listened", "song_id": song_id, "title": title,
                    "text": f"Because you listened to {title}"}  # fmt: skip
        ranked = [
            Ranked(
                k,
                score,
                similar if (1 - w) * n_content > w * n_als else listened,
                {"als_score": round(n_als, 6), "content_score": round(n_content, 6)},
            )
            for k, (score, n_als, n_content) in scores.items()
        ]
        ranked.sort(key=lambda r: (-r.score, r.song_id))
        mode = (
            "hybrid"
            if als_vector is not None and lyrics_vector is not None
            else "als_only"
            if als_vector is not None
            else "content_only"
        )
        return Answer(mode, degraded, version, ranked)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / norm if norm else 0.0
