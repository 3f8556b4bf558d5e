"""Similar songs in one read: the seed song, the served model, the catalog details version
and the seed's nearest ALS items and nearest lyrics with both exact scores, each with its
artist, in a single statement (GET /api/v1/songs/<song_id>/similar; docs/playlists.md).

The answer is the one the next-song recommender's read and Recommender.page made (same
candidates, exact scores, blend, new-song rule, artist cap, details and reasons), from one
round trip instead of five (BEGIN, the model lock, the seed, the candidates, COMMIT) and a
lookup of the candidates' artists. One statement reads one snapshot, so the model version,
the seed's vectors and the candidates cannot come from two models, and the songs taken down
are those of the details version it returns (as the home page's read,
webapp.services.home_read). The page's song details come from the worker
(webapp.services.served_songs): a second statement only for songs it has not kept yet.

Each worker keeps a song's ranked list, with each song's artist, per served model version
(``KeptSimilar``: ``similar_songs_cache_s`` seconds, the ``similar_songs_kept`` songs asked
for most recently). While a list is kept, the kept version goes into the statement and its
searches run only when the served model is another: a new model is used at once. The seed
is checked on every request, and the songs taken down at the request's details version
leave a kept list, so a takedown shows at once too.

A song nobody asked this worker about is usually not searched either: the similar_songs DAG
stores every served song's candidates ahead (recsys.model_registry.similar_lists), and the
statement reads the song's stored list while it is current (the served model, the lyrics
vectors and the search settings it was computed under), one probe of a primary key. Songs
taken down since it was computed leave it in the statement (it reads their catalog rows in
the same snapshot).

Reads catalog.songs, catalog.song_details_version, the served model (model.active_model,
model.active_factors, model.als_runs), model.lyrics_embeddings, model.lyrics_version and
the stored lists (model.similar_list_runs, model.similar_lists); writes nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from recsys.model_registry import ACTIVE_VERSION_SQL, vectors
from recsys.model_registry.similar_lists import CANDIDATES_SQL, SERVED_RUN_SQL
from recsys.model_registry.vectors import MODEL_TRAINED_AT
from recsys.ranking import cap_per_artist
from webapp.services.recs import (
    REASON_TEXT,
    Answer,
    Recommender,
    UnknownSong,
)
from webapp.services.scoring import hybrid_scores
from webapp.services.served_songs import DETAILS_VERSION_SQL
from webapp.services.song_radio import SIMILAR_TEXT, similar_reasons


def _answer_sql(kept_sql: str, stored_sql: str) -> str:
    """The end both statements share, after their ``seed_flags`` and ``merged`` CTEs: each
    candidate's catalog row, one probe of the key each (offset 0: not a join of all the
    songs, which the planner picks for a couple of hundred candidates), songs taken down
    left out, and the row: the served model and details versions, the seed (genre, taken
    down, whether it has an item and a lyrics vector), ``kept_sql`` (False: a kept list
    serves), ``stored_sql`` (a stored list was read), then the candidates as arrays."""
    return f"""
    scored as materialized (
        select m.id, m.als, m.lyrics,
               coalesce(s.created_at > {MODEL_TRAINED_AT}, false) as new,
               s.id is not null as known,
               s.artist_id
        from merged as m
        left join lateral (
            select s.id, s.created_at, s.artist_id, s.taken_down_at
            from catalog.songs as s where s.id = m.id offset 0
        ) as s on true
        where s.taken_down_at is null
    )
    select {ACTIVE_VERSION_SQL}, {DETAILS_VERSION_SQL},
           seed.genre, seed.down, seed.has_item, seed.has_lyrics, {kept_sql}, {stored_sql},
           a.*
    from (select) as one left join seed_flags as seed on true
    cross join lateral (
        select array_agg(id), array_agg(als), array_agg(lyrics), array_agg(new),
               array_agg(known), array_agg(artist_id)
        from scored
    ) as a
"""


# Without searching: the seed, whether the asking worker's kept list (%(kept)s: its model
# version or null) is the served model's, and else the song's stored list while one is current
# (recsys.model_registry.similar_lists; one probe of a primary key). A stored list's songs
# taken down since it was computed leave it here. A small statement, planned once per
# pooled connection.
LIST_SQL = f"""
    with seed_flags as materialized (
        select s.genre, s.taken_down_at is not null as down,
               exists (select from model.active_factors
                       where kind = 'item' and id = %(song)s) as has_item,
               exists (select from model.lyrics_embeddings where song_id = %(song)s) as has_lyrics
        from catalog.songs as s where s.id = %(song)s
    ),
    kept as materialized (
        select not down and coalesce(%(kept)s::bigint = {ACTIVE_VERSION_SQL}, false) as kept
        from seed_flags
    ),
    stored as materialized (
        select l.ids, l.als, l.lyrics from model.similar_lists as l
        where not (select kept from kept) and not (select down from seed_flags)
          and l.song_id = %(song)s and l.run_id = {SERVED_RUN_SQL}
    ),
    merged as materialized (
        select u.id, u.als, u.lyrics
        from stored cross join lateral unnest(stored.ids, stored.als, stored.lyrics)
             as u (id, als, lyrics)
    ),
    {_answer_sql("not (select kept from kept)", "exists (select from stored)")}
"""

# Searching (no kept or stored list serves): the candidates of
# recsys.model_registry.similar_lists.CANDIDATES_SQL, which exclude the songs taken down.
SEARCH_SQL = f"""
    with {CANDIDATES_SQL},
    seed_flags as materialized (
        select genre, down, item is not null as has_item, lyrics is not null as has_lyrics
        from seed
    ),
    {_answer_sql("true", "false")}
"""


@dataclass(slots=True)
class Ranking:
    """A seed's ranked similar songs (best first) with what a page needs of each."""

    mode: str
    songs: list[str]
    scores: list[float]
    # (norm(als), norm(content)) of each song (the answer shows them rounded)
    parts: list[tuple[float, float]]
    lyrics_led: list[bool]
    # each song's artist; a song missing from the catalog is not in ``artists``
    artists: dict[str, str | None]


class KeptSimilar:
    """The ranked similar songs of the songs asked for lately, in this worker: per served
    model version, ``ttl_s`` seconds, the ``max_songs`` most recently asked for (ids
    interned, scores in arrays: about 10 KB a song). 0 for either keeps nothing."""

    def __init__(self, max_songs: int, ttl_s: float):
        self.max_songs, self.ttl_s = max_songs, ttl_s
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple] = OrderedDict()

    def version(self, song_id: str) -> int | None:
        """The model version of the list kept for ``song_id`` (None: none kept)."""
        found = self._kept.get(song_id)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def get(self, song_id: str, version: int) -> Ranking | None:
        with self._lock:
            found = self._kept.get(song_id)
            if found is None or found[1] != version or found[0] < time.monotonic():
                return None
            self._kept.move_to_end(song_id)
        _, _, mode, songs, numbers, led, artists, known = found
        return Ranking(
            mode,
            songs,
            numbers[:, 0].tolist(),
            list(zip(numbers[:, 1].tolist(), numbers[:, 2].tolist(), strict=True)),
            led.tolist(),
            {s: a for s, a, k in zip(songs, artists, known.tolist(), strict=True) if k},
        )

    def put(self, song_id: str, version: int, ranking: Ranking) -> None:
        if self.ttl_s <= 0 or self.max_songs <= 0:
            return
        songs = ranking.songs
        numbers = np.array(
            [(s, a, c) for s, (a, c) in zip(ranking.scores, ranking.parts, strict=True)],
            dtype=np.float64,
        ).reshape(-1, 3)
        artists = [ranking.artists.get(s) for s in songs]
        known = np.array([s in ranking.artists for s in songs], dtype=bool)
        entry = (
            time.monotonic() + self.ttl_s,
            version,
            ranking.mode,
            songs,
            numbers,
            np.array(ranking.lyrics_led, dtype=bool),
            artists,
            known,
        )
        with self._lock:
            self._kept[song_id] = entry
            self._kept.move_to_end(song_id)
            while len(self._kept) > self.max_songs:
                self._kept.popitem(last=False)


def _rank(row, weight: float, new_weight: float, slots: int) -> Ranking:
    """The candidates of one read ranked as Recommender._next_songs ranks them: the same
    scores, order (best first, then by id) and new-song rule."""
    ids, als_scores, lyrics_scores, new_flags, known, artist_ids = row[8:]
    has_als, has_lyrics = row[4], row[5]
    als: dict[str, float] = {}
    content: dict[str, float] = {}
    artists: dict[str, str | None] = {}
    new_candidates = []
    for k, a, c, is_new, is_known, artist in zip(
        ids or (), als_scores or (), lyrics_scores or (), new_flags or (), known or (),
        artist_ids or (), strict=True,
    ):  # fmt: skip
        k = sys.intern(k)
        if a is not None:
            als[k] = float(a)
        elif is_new:
            new_candidates.append(k)
        if c is not None:
            content[k] = float(c)
        if is_known:
            artists[k] = None if artist is None else sys.intern(artist)
    # beside songs the model knows, a new one (no ALS vector yet) is scored by its lyrics
    # alone; without ALS candidates every song already is
    new = set(new_candidates) if als else set()
    w = weight
    ranked = [
        (-(new_weight * n_content), k, n_als, n_content, True)
        if k in new
        else (-score, k, n_als, n_content, (1 - w) * n_content > w * n_als)
        for k, (score, n_als, n_content) in hybrid_scores(als, content, w).items()
    ]
    ranked.sort(key=lambda r: (r[0], r[1]))  # Recommender's best first: (-score, song)
    if new:  # only the best ``slots`` new songs
        seen = 0
        capped = []
        for r in ranked:
            if r[1] in new:
                seen += 1
                if seen > slots:
                    continue
            capped.append(r)
        ranked = capped
    mode = "hybrid" if has_als and has_lyrics else "als_only" if has_als else "content_only"
    return Ranking(
        mode,
        [r[1] for r in ranked],
        [-r[0] for r in ranked],
        [(r[2], r[3]) for r in ranked],
        [r[4] for r in ranked],
        artists,
    )


def _page(
    recommender: Recommender,
    conn,
    song_id: str,
    ranking: Ranking,
    details_version: int | None,
    limit: int,
    offset: int,
    drop_down: bool,
) -> list[dict]:
    """The page ``[offset, offset + limit)`` of the capped order, as Recommender.page and
    song_radio.similar_reasons make it (``drop_down``: a kept list, so songs taken down at
    this details version leave it first)."""
    order = range(len(ranking.songs))
    artists = ranking.artists
    songs = ranking.songs
    if drop_down:
        _, down = recommender.songs.details(conn, details_version, songs)
        if down:
            order = [i for i in order if songs[i] not in down]
    order = [i for i in order if songs[i] in artists]
    ordered = cap_per_artist(
        order,
        lambda i: artists[songs[i]],
        limit,
        recommender.settings.recs_max_per_artist,
        stop=offset + limit,
    )
    chosen = ordered[offset : offset + limit]
    details, down = recommender.songs.details(
        conn, details_version, {*(songs[i] for i in chosen), song_id}
    )
    seed = details.get(song_id, {}).get("title", song_id)
    listeners = {"kind": "similar_listeners", "song_id": song_id, "title": seed,
                 "text": SIMILAR_TEXT.format(title=seed)}  # fmt: skip
    lyrics = {"kind": "similar_lyrics", "song_id": song_id, "title": seed,
              "text": REASON_TEXT["similar_lyrics"].format(title=seed)}  # fmt: skip
    items = []
    position = offset
    for i in chosen:
        song = songs[i]
        if song in down:  # taken down since the candidates were read: never shown
            continue
        position += 1
        if song not in details:
            continue
        n_als, n_content = ranking.parts[i]
        items.append(
            {
                "rank": position,
                **details[song],
                "score": round(ranking.scores[i], 6),
                "als_score": round(n_als, 6),
                "content_score": round(n_content, 6),
                "reason": dict(lyrics if ranking.lyrics_led[i] else listeners),
            }
        )
    return items


@dataclass
class Similar:
    """An answer of GET /songs/<song_id>/similar, but for song_id, limit and offset."""

    mode: str
    degraded: list[str]
    model_version: int | None
    items: list[dict]


def similar_page(
    recommender: Recommender, kept: KeptSimilar, conn, song_id: str, limit: int,
    offset: int,
) -> Similar:  # fmt: skip
    """The page of ``song_id``'s similar songs; UnknownSong for a song unknown or taken
    down."""
    s = recommender.settings
    kept_version = kept.version(song_id)
    row = _read(conn, s, song_id, kept_version)
    ranking = None
    if row[6] is False:  # the served model is the kept list's: the statement read no candidates
        ranking = kept.get(song_id, kept_version)
        if ranking is None:  # it expired or left since: read again
            row = _read(conn, s, song_id, None)
    version, details_version, genre, down, has_als, has_lyrics, _, stored = row[:8]
    if down is None or down:
        raise UnknownSong(song_id)
    degraded = [] if version is not None else ["no_active_model"]
    if ranking is not None:  # songs taken down since the list was kept leave it
        items = _page(recommender, conn, song_id, ranking, details_version, limit, offset, True)
        return Similar(ranking.mode, degraded, version, items)
    if not (has_als or has_lyrics):  # the trending songs of its genre
        ranked = recommender._trending(conn, [genre], [song_id])
        answer = Answer("trending", degraded, version, ranked, details_version=details_version)
        items = similar_reasons(recommender.page(conn, answer, limit, offset))
        return Similar("trending", degraded, version, items)
    if not stored:  # no list computed ahead is current (a model or lyrics changed since)
        row = _read(conn, s, song_id, None, search=True)
        version, details_version, genre, down, has_als, has_lyrics = row[:6]
        if down is None or down:  # taken down in between
            raise UnknownSong(song_id)
        degraded = [] if version is not None else ["no_active_model"]
    ranking = _rank(row, s.next_song_als_weight, s.next_song_new_song_weight, s.recs_new_song_slots)
    if version is not None:
        kept.put(song_id, version, ranking)
    items = _page(recommender, conn, song_id, ranking, details_version, limit, offset, False)
    return Similar(ranking.mode, degraded, version, items)


def _read(conn, s, song_id: str, kept_version: int | None, search: bool = False) -> tuple:
    """LIST_SQL's row for ``song_id`` (``kept_version``: the version of the list the worker
    keeps, or None), or with ``search`` SEARCH_SQL's."""
    params = {
        "song": song_id,
        "kept": kept_version,
        "exclude": [song_id],
        "n": s.recs_candidate_pool,
        "ef": s.hnsw_ef_search,
    }
    if search:
        return vectors.search(conn, SEARCH_SQL, params, s.hnsw_ef_search).fetchone()
    return conn.execute(LIST_SQL, params).fetchone()
