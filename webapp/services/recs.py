"""Home-page and next-song recommendations (the serving rules of docs/serving.md).

Home: the session vector (``0.7 v_long + 0.3 v_short``) searched against the active model's
item factors by inner product. Next song: the current song's ALS neighbours and lyrics
neighbours, merged and scored ``0.6 norm(als) + 0.4 norm(content)``. Both exclude the song
playing and the listener's recent plays, cap songs per artist in a page, and fall back to
trending (genre-filtered for a cold start) instead of failing. Each answer names its mode
and what was degraded.

Songs added since the served model was trained have no ALS vector; a few of them are mixed
in (``recs_new_song_slots``): on the home page at ranks 3, 6, ..., chosen by the artists and
then the genres the listener heard ("New from <artist>", "New in <genre>"); in next songs
through their lyrics vector, scored ``next_song_new_song_weight * norm(content)``. A song
taken down is never read as a candidate, and a page never shows one. Neither is a song the
listener disliked; the songs of an artist they disliked twice or more come after all others
(``feedback``).

In a running experiment (``experiments``) the listener's arm may change that: serve another
model version (home page: its own user and item vectors, the short-term vector rebuilt from
the songs heard in that version's space), another blend weight (home: long-term; next songs:
ALS), or random servable songs. Outside an experiment, or in its control arm, nothing does.

The home page of the served model is one statement (``home_read``: the listener, their
dislikes, the session vector blended in PostgreSQL and its nearest items); song details and
the item vectors behind reasons are kept in the worker (``served_songs``), checked against
the catalog details version each answer's first read returns.

Reads catalog.users, catalog.songs, catalog.artists, the model tables (``vectors``,
``version_vectors``), the running experiments and the session store; writes nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from recsys import model_registry as registry
from recsys.model_registry import vectors, version_vectors
from recsys.ranking import cap_per_artist
from recsys.settings import Settings
from webapp.services.experiments import Assignment, RunningExperiments
from webapp.services.feedback import disliked_sql
from webapp.services.home_read import KeptSearches, read_home
from webapp.services.scoring import (
    ema,
    hybrid_scores,
    session_vector,
    strongest_contributor,
)
from webapp.services.served_songs import DETAILS_VERSION_SQL, ServedSongs, read_details
from webapp.services.sessions import Session, SessionStore, SessionsUnavailable

# Recent songs considered when explaining a home recommendation.
REASON_SONGS = 10
# Both reads of a listener name it u.
_DISLIKED_SONGS, _DISLIKED_ARTISTS = disliked_sql("u.id")


@dataclass(frozen=True)
class Disliked:
    """What a listener disliked: songs never served to them, and the artists whose songs
    go last."""

    songs: list[str]
    artists: list[str]


class UnknownUser(LookupError):
    pass


class UnknownSong(LookupError):
    pass


@dataclass(slots=True)
class Ranked:
    """A scored candidate before the page is cut; its reason is ``(kind, song)``, and
    ``extra`` holds fields the answer adds to the song (e.g. the next-song score parts)."""

    song_id: str
    score: float
    reason: tuple[str, str | None] = ("taste", None)
    extra: dict | None = None


@dataclass
class Answer:
    mode: str
    degraded: list[str]
    model_version: int | None
    ranked: list[Ranked]
    # the listener's recent qualifying plays, newest first: when given, a page's reasons
    # are worked out from them ("because you listened to") instead of each Ranked.reason
    heard: list[str] = field(default_factory=list)
    # artists the listener disliked ARTIST_DISLIKES times or more: their songs go last
    pushed_down: list[str] = field(default_factory=list)
    # the listener's arm in the surface's running experiment, if any
    experiment: Assignment | None = None
    # catalog.song_details_version as the candidates were read: the page's song details
    # may come from what the worker kept for it (served_songs)
    details_version: int | None = None


REASON_TEXT = {
    "because_you_listened": "Because you listened to {title}",
    "similar_lyrics": "Similar lyrics to {title}",
    "trending": "Trending this week",
    "taste": "Picked for your taste",
    "new_from_artist": "New from {artist}",
    "new_in_genre": "New in {genre}",
    "random": "A random pick",
}
# Reasons of new songs, about the recommended song itself (its artist, its genre).
NEW_REASONS = {"artist": "new_from_artist", "genre": "new_in_genre"}
# The home page's new songs take every third rank: 3, 6, ...
NEW_SONG_EVERY = 3

# An experiment's random arm: servable songs in an order fixed per listener and experiment
# (so pages do not overlap), a scan of the catalog: a demonstration arm, not a fast one.
RANDOM_SONGS_SQL = """
    select id from catalog.songs
    where taken_down_at is null and id <> all(%s)
    order by md5(%s || id), id limit %s
"""


def song_details(conn, song_ids) -> tuple[dict[str, dict], set[str]]:
    """The songs' details, and which of them are taken down, read now."""
    return read_details(conn, song_ids)


def reason_body(kind: str, song: str | None, details: dict[str, dict]) -> dict:
    body = {"kind": kind}
    if kind in NEW_REASONS.values():  # about the recommended song itself
        found = details.get(song, {})
        if kind == "new_from_artist":
            body.update(artist_id=found.get("artist_id"), artist=found.get("artist"))
        else:
            body["genre"] = found.get("genre")
        body["text"] = REASON_TEXT[kind].format(artist=body.get("artist"), genre=body.get("genre"))
    elif song is not None:
        title = details.get(song, {}).get("title", song)
        body.update(song_id=song, title=title)
        body["text"] = REASON_TEXT[kind].format(title=title)
    else:
        body["text"] = REASON_TEXT[kind]
    return body


class SongArtists:
    """song -> artist for the artist cap, kept in the process: a song's artist never changes,
    and looking up the whole candidate pool on every request would cost a query."""

    def __init__(self):
        self._artist: dict[str, str] = {}
        self._lock = threading.Lock()

    def of(self, conn, song_ids: list[str]) -> dict[str, str]:
        missing = [s for s in song_ids if s not in self._artist]
        if missing:
            rows = conn.execute(
                "select id, artist_id from catalog.songs where id = any(%s)", (missing,)
            ).fetchall()
            with self._lock:
                self._artist.update(rows)
        return {s: self._artist[s] for s in song_ids if s in self._artist}


class Recommender:
    def __init__(self, settings: Settings, store: SessionStore):
        self.settings = settings
        self.store = store
        self.artists = SongArtists()
        self.songs = ServedSongs()
        self.searches = KeptSearches()
        self.experiments = RunningExperiments(settings.experiments_cache_s)

    # -- shared steps -------------------------------------------------------------------
    def _listener(self, conn, user_id: str) -> tuple[list[str], int | None, bool, Disliked]:
        """(onboarding genres, the active model version, whether any song was added since
        that model was trained, what the listener disliked) in one round trip."""
        row = conn.execute(
            f"select u.onboarding_genres, {registry.ACTIVE_VERSION_SQL},"
            f" {vectors.NEW_SONGS_EXIST_SQL}, {_DISLIKED_SONGS}, {_DISLIKED_ARTISTS}"
            " from catalog.users as u where u.id = %s",
            (user_id,),
        ).fetchone()
        if row is None:
            raise UnknownUser(user_id)
        return list(row[0]), row[1], row[2], Disliked(row[3], row[4])

    def _listener_and_song(self, conn, user_id: str, song_id: str):
        """(onboarding genres, the active model version, the song's genre, whether the song
        has an ALS item vector, whether it has a lyrics vector) in one round trip; the
        listener is checked first; and what the listener disliked."""
        row = conn.execute(
            "select u.id is not null, u.onboarding_genres,"
            f" {registry.ACTIVE_VERSION_SQL}, s.id is not null, s.genre,"
            f" {vectors.has_vectors_sql('s.id')}, {DETAILS_VERSION_SQL},"
            f" {_DISLIKED_SONGS}, {_DISLIKED_ARTISTS}"
            " from (select) as one"
            " left join catalog.users as u on u.id = %s"
            " left join catalog.songs as s on s.id = %s",
            (user_id, song_id),
        ).fetchone()
        known_user, genres, version, known_song, genre, has_als, has_lyrics, details, *disliked = (
            row
        )
        if not known_user:
            raise UnknownUser(user_id)
        if not known_song:
            raise UnknownSong(song_id)
        read = list(genres), version, genre, has_als, has_lyrics, Disliked(*disliked)
        return *read, details

    def _session(self, user_id: str, degraded: list[str]) -> Session:
        try:
            return self.store.session(user_id)
        except SessionsUnavailable:
            degraded.append("sessions_unavailable")
            return Session()

    def _trending(self, conn, genres: list[str], exclude: list[str]) -> list[Ranked]:
        """The most played songs of the last 7 days, only in ``genres`` when any are given."""
        rows = conn.execute(
            "select id, plays_7d from catalog.songs"
            " where id <> all(%s) and (cardinality(%s::text[]) = 0 or genre = any(%s))"
            " and taken_down_at is null"
            " order by plays_7d desc, plays_cumulative desc, id limit %s",
            (exclude, genres, genres, self.settings.recs_candidate_pool),
        ).fetchall()
        return [Ranked(r[0], float(r[1]), ("trending", None)) for r in rows]

    def _random(self, conn, assigned: Assignment, user_id: str, exclude: list[str]) -> list[Ranked]:
        """Servable songs at random: an experiment's deliberately poor arm."""
        seed = f"{assigned.experiment}:{user_id}:"
        rows = conn.execute(
            RANDOM_SONGS_SQL, (exclude, seed, self.settings.recs_candidate_pool)
        ).fetchall()
        return [Ranked(r[0], 0.0, ("random", None)) for r in rows]

    def page(self, conn, answer: Answer, limit: int, offset: int) -> list[dict]:
        """The page ``[offset, offset + limit)`` of the capped order, with song details."""
        artists = self.artists.of(conn, [r.song_id for r in answer.ranked])
        ranked = [r for r in answer.ranked if r.song_id in artists]
        if answer.pushed_down:
            last = set(answer.pushed_down)
            ranked = [r for r in ranked if artists[r.song_id] not in last] + [
                r for r in ranked if artists[r.song_id] in last
            ]
        ordered = cap_per_artist(
            ranked,
            lambda r: artists[r.song_id],
            limit,
            self.settings.recs_max_per_artist,
            stop=offset + limit,
        )
        chosen = ordered[offset : offset + limit]
        ids = [r.song_id for r in chosen]
        reasons = {r.song_id: r.reason for r in chosen}
        if answer.heard:
            named = {*ids, *answer.heard}
            found = self.songs.item_vectors(conn, answer.model_version, named)
            new = {song: why for song, why in reasons.items() if why[0] in NEW_REASONS.values()}
            reasons = {**self._reasons(answer.heard, ids, found), **new}
        else:
            named = {*ids, *(song for _, song in reasons.values() if song)}
        details, down = self.songs.details(conn, answer.details_version, named)
        # a song taken down after its candidates were read is still never shown
        chosen = [r for r in chosen if r.song_id not in down]
        return [
            {
                "rank": position,
                **details[r.song_id],
                "score": round(r.score, 6),
                **(r.extra or {}),
                "reason": reason_body(*reasons[r.song_id], details),
            }
            for position, r in enumerate(chosen, start=offset + 1)
            if r.song_id in details
        ]

    def _reasons(
        self, heard: list[str], song_ids: list[str], found: dict[str, np.ndarray]
    ) -> dict[str, tuple[str, str | None]]:
        """For each song, the recent song contributing most to its score through v_short
        ("because you listened to"), or the listener's long-term taste."""
        recent = [(h, found[h]) for h in heard if h in found]
        reasons = {}
        for song in song_ids:
            source = (
                strongest_contributor(found[song], recent, self.settings.session_ema_weight)
                if song in found
                else None
            )
            reasons[song] = ("because_you_listened", source) if source else ("taste", None)
        return reasons

    def _with_new_songs(
        self, conn, ranked: list[Ranked], heard: list[str], exclude: list[str]
    ) -> list[Ranked]:
        """``ranked`` with up to ``recs_new_song_slots`` songs newer than the served model
        at ranks 3, 6, ..., each scored like the song ranked just above it."""
        exclude = [*exclude, *(r.song_id for r in ranked)]
        found = vectors.new_songs(conn, heard, exclude, self.settings.recs_new_song_slots)
        merged = list(ranked)
        for i, (song, why) in enumerate(found):
            at = min(NEW_SONG_EVERY * (i + 1) - 1, len(merged))
            above = merged[at - 1].score if at else 0.0
            merged.insert(at, Ranked(song, above, (NEW_REASONS[why], song)))
        return merged

    # -- home ---------------------------------------------------------------------------
    def home(self, conn, user_id: str) -> Answer:
        assigned = self.experiments.assignment(conn, "home", user_id)
        arm = assigned.arm if assigned else None
        degraded: list[str] = []
        session = self._session(user_id, degraded)
        answer = None
        if arm is not None and (arm.random or arm.model_version is not None):
            answer = self._home_of_arm(conn, user_id, assigned, session, degraded)
        if answer is None:
            weight = _blend(arm, self.settings.recs_long_term_weight)
            answer = self._home(conn, user_id, session, weight, degraded)
        answer.experiment = assigned
        return answer

    def _home(self, conn, user_id: str, session: Session, weight: float, degraded) -> Answer:
        """The served model's home page, from one read (home_read): the session vector's
        nearest items, or trending for a listener with no vector or with no model served."""
        s = self.settings
        read = read_home(
            conn, user_id, session, weight, s.recs_candidate_pool, s.hnsw_ef_search, self.searches
        )
        if read is None:
            raise UnknownUser(user_id)
        exclude = list(dict.fromkeys([*session.recent, *read.disliked_songs]))
        if read.version is None:
            degraded.append("no_active_model")
            answer = Answer("trending", degraded, None, self._trending(conn, read.genres, exclude))
        elif not (read.has_long_term or read.has_short_term):
            ranked = self._trending(conn, read.genres, exclude)
            if read.new_songs_exist:
                ranked = self._with_new_songs(conn, ranked, session.heard, exclude)
            answer = Answer("trending", degraded, read.version, ranked)
        else:
            ranked = [Ranked(song, score) for song, score in read.nearest]
            if read.new_songs_exist:
                ranked = self._with_new_songs(conn, ranked, session.heard, exclude)
            heard = session.heard[:REASON_SONGS] if read.has_short_term else []
            mode = _home_mode(read.has_long_term, read.has_short_term)
            answer = Answer(mode, degraded, read.version, ranked, heard)
        answer.pushed_down = read.disliked_artists
        answer.details_version = read.details_version
        return answer

    def _home_of_arm(
        self, conn, user_id: str, assigned: Assignment, session: Session, degraded
    ) -> Answer | None:
        """The home page of an experiment arm serving random songs or another model version;
        None when the arm is served the active model after all (the version it names is the
        active one, or its vectors are gone)."""
        arm = assigned.arm
        genres, version, new_songs_exist, disliked = self._listener(conn, user_id)
        exclude = list(dict.fromkeys([*session.recent, *disliked.songs]))
        if arm.random:
            ranked = self._random(conn, assigned, user_id, exclude)
            answer = Answer("random", degraded, None, ranked)
        elif arm.model_version == version:
            return None
        else:
            read = (genres, new_songs_exist, session, exclude, degraded)
            answer = self._home_of_version(conn, user_id, arm, read)
            if answer is None:
                return None
        answer.pushed_down = disliked.artists
        return answer

    def _home_of_version(self, conn, user_id: str, arm, read) -> Answer | None:
        """The home page from the arm's model version instead of the active one: its user
        vector, and the short-term vector rebuilt from the songs heard this session (the
        stored one is in the active model's space). None when the version's vectors are gone
        (dropped by hand: prune keeps them): the listener is then served the active model."""
        s = self.settings
        genres, new_songs_exist, session, exclude, degraded = read
        version = arm.model_version
        heard = session.heard[:REASON_SONGS] if session.short_term is not None else []
        try:
            long_term, heard_vectors = version_vectors.listener_vectors(
                conn, version, user_id, heard
            )
        except version_vectors.VersionGone:
            degraded.append("experiment_arm_unavailable")
            return None
        short_term = None
        for song in reversed(heard):  # oldest first, as the session saw them
            if song in heard_vectors:
                short_term = ema(short_term, heard_vectors[song], s.session_ema_weight)
        weight = _blend(arm, s.recs_long_term_weight)
        query = session_vector(long_term, short_term, weight)
        if query is None:
            ranked = self._trending(conn, genres, exclude)
            mode = "trending"
        else:
            nearest = version_vectors.nearest_items(
                conn, version, query, exclude, s.recs_candidate_pool, s.hnsw_ef_search
            )
            ranked = sorted((Ranked(song, score) for song, score in nearest), key=_best_first)
            mode = _home_mode(long_term is not None, short_term is not None)
        if new_songs_exist:
            ranked = self._with_new_songs(conn, ranked, session.heard, exclude)
        return Answer(mode, degraded, version, ranked)

    # -- next song ----------------------------------------------------------------------
    def next_songs(self, conn, user_id: str, song_id: str) -> Answer:
        """Next songs after ``song_id``: its ALS and lyrics neighbours, scored by the hybrid
        rule. The reads share one transaction holding the served model, so a swap cannot
        mix two models' candidates and scores in one answer."""
        assigned = self.experiments.assignment(conn, "up_next", user_id)
        arm = assigned.arm if assigned else None
        with conn.transaction():
            registry.hold_active_model(conn)
            genres, version, genre, has_als, has_lyrics, disliked, details_version = (
                self._listener_and_song(conn, user_id, song_id)
            )
            degraded: list[str] = []
            session = self._session(user_id, degraded)
            exclude = list(dict.fromkeys([song_id, *session.recent, *disliked.songs]))
            if arm is not None and arm.random:
                ranked = self._random(conn, assigned, user_id, exclude)
                answer = Answer("random", degraded, None, ranked)
            else:
                weight = _blend(arm, self.settings.next_song_als_weight)
                read = (genres, version, genre, has_als, has_lyrics)
                answer = self._next_songs(conn, song_id, read, degraded, exclude, weight)
            answer.pushed_down = disliked.artists
            answer.experiment = assigned
            answer.details_version = details_version
            return answer

    def _next_songs(self, conn, song_id: str, read, degraded, exclude, weight) -> Answer:
        s = self.settings
        genres, version, genre, has_als, has_lyrics = read
        if version is None:
            degraded.append("no_active_model")
        if not (has_als or has_lyrics):
            genre_first = [genre, *genres]
            ranked = self._trending(conn, genre_first, exclude)
            return Answer("trending", degraded, version, ranked)

        # every merged candidate comes with both exact scores where it has the vectors
        merged = vectors.next_song_candidates(
            conn, song_id, exclude, s.recs_candidate_pool, s.hnsw_ef_search, has_als, has_lyrics
        )
        als = {k: a for k, (a, _, _) in merged.items() if a is not None}
        content = {k: c for k, (_, c, _) in merged.items() if c is not None}
        # Beside songs the model knows, a new one (no ALS vector yet) is scored by its lyrics
        # alone; without ALS candidates every song already is.
        new = {k for k, (a, _, is_new) in merged.items() if is_new and a is None} if als else set()
        w, w_new = weight, s.next_song_new_song_weight
        ranked = []
        for k, (score, n_als, n_content) in hybrid_scores(als, content, w).items():
            lyrics_led = k in new or (1 - w) * n_content > w * n_als
            ranked.append(
                Ranked(
                    k,
                    w_new * n_content if k in new else score,
                    ("similar_lyrics" if lyrics_led else "because_you_listened", song_id),
                    {"als_score": round(n_als, 6), "content_score": round(n_content, 6)},
                )
            )
        ranked.sort(key=_best_first)
        ranked = _new_songs_capped(ranked, new, s.recs_new_song_slots)
        mode = "hybrid" if has_als and has_lyrics else "als_only" if has_als else "content_only"
        return Answer(mode, degraded, version, ranked)


def _blend(arm, setting: float) -> float:
    """The blend weight the listener's arm serves with: its own, else the setting's."""
    return setting if arm is None or arm.blend is None else arm.blend


def _home_mode(has_long_term: bool, has_short_term: bool) -> str:
    if has_long_term and has_short_term:
        return "session"
    return "long_term" if has_long_term else "short_term"


def _best_first(r: Ranked) -> tuple[float, str]:
    return (-r.score, r.song_id)


def _new_songs_capped(ranked: list[Ranked], new: set[str], slots: int) -> list[Ranked]:
    """``ranked`` keeping only its ``slots`` best new songs."""
    if not new:
        return ranked
    kept, seen = [], 0
    for r in ranked:
        if r.song_id in new:
            seen += 1
            if seen > slots:
                continue
        kept.append(r)
    return kept
