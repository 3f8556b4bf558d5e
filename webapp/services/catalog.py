"""The catalog as listeners see it: songs, artists, genres, search, and listener profiles.

Search is typo-tolerant through pg_trgm (trigram similarity of the lowercased title or name,
best of whole-string and word similarity), served by the GIN indexes of migration 0008.
A song an admin took down (``taken_down_at``) is never found, shown or counted as a genre.
Reads catalog.*; writes catalog.users (new listeners and their onboarding genres).
"""

from __future__ import annotations

import secrets

from psycopg.rows import dict_row

SONG_COLUMNS = """
    s.id, s.title, s.artist_id, a.name as artist, s.album, s.genre, s.duration_s,
    s.release_date, s.image_url, s.audio_url, s.plays_7d
"""

# word similarity is lowered from pg_trgm's 0.6 so one wrong letter in a short word matches
SEARCH_SONGS_SQL = f"""
    with matches as (
        select s.id,
               greatest(similarity(lower(s.title), %(q)s),
                        word_similarity(%(q)s, lower(s.title))) as score
        from catalog.songs as s
        where (lower(s.title) %% %(q)s or %(q)s <%% lower(s.title)) and s.taken_down_at is null
    )
    select {SONG_COLUMNS}, m.score
    from matches as m
    join catalog.songs as s on s.id = m.id
    join catalog.artists as a on a.id = s.artist_id
    order by m.score desc, s.plays_7d desc, s.id
    limit %(limit)s
"""

SEARCH_ARTISTS_SQL = """
    select a.id, a.name, a.genre,
           greatest(similarity(lower(a.name), %(q)s), word_similarity(%(q)s, lower(a.name)))
               as score
    from catalog.artists as a
    where lower(a.name) %% %(q)s or %(q)s <%% lower(a.name)
    order by score desc, a.name, a.id
    limit %(limit)s
"""


def _rows(conn, query: str, params) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, params).fetchall()
    for row in rows:
        if row.get("release_date") is not None:
            row["release_date"] = row["release_date"].isoformat()
        if "score" in row:
            row["score"] = round(float(row["score"]), 4)
    return rows


def search(conn, q: str, limit: int) -> dict:
    conn.execute("select set_config('pg_trgm.word_similarity_threshold', '0.45', true)")
    params = {"q": q.lower(), "limit": limit}
    return {
        "q": q,
        "songs": _rows(conn, SEARCH_SONGS_SQL, params),
        "artists": _rows(conn, SEARCH_ARTISTS_SQL, params),
    }


def song(conn, song_id: str) -> dict | None:
    rows = _rows(
        conn,
        f"select {SONG_COLUMNS} from catalog.songs as s"
        " join catalog.artists as a on a.id = s.artist_id"
        " where s.id = %s and s.taken_down_at is null",
        (song_id,),
    )
    return rows[0] if rows else None


def genres(conn) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select distinct genre from catalog.songs where taken_down_at is null order by 1"
        )
    ]


USER_COLUMNS = "id, display_name, onboarding_genres"


def users(conn, limit: int, offset: int) -> dict:
    total = conn.execute("select count(*) from catalog.users").fetchone()[0]
    items = _rows(
        conn,
        f"select {USER_COLUMNS} from catalog.users order by id limit %s offset %s",
        (limit, offset),
    )
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def user(conn, user_id: str) -> dict | None:
    rows = _rows(conn, f"select {USER_COLUMNS} from catalog.users where id = %s", (user_id,))
    return rows[0] if rows else None


def create_user(conn, display_name: str, onboarding_genres: list[str]) -> dict:
    user_id = f"listener-{secrets.token_hex(5)}"
    return _rows(
        conn,
        f"insert into catalog.users (id, display_name, onboarding_genres)"
        f" values (%s, %s, %s) returning {USER_COLUMNS}",
        (user_id, display_name, onboarding_genres),
    )[0]


def set_genres(conn, user_id: str, onboarding_genres: list[str]) -> dict | None:
    rows = _rows(
        conn,
        f"update catalog.users set onboarding_genres = %s where id = %s returning {USER_COLUMNS}",
        (onboarding_genres, user_id),
    )
    return rows[0] if rows else None
