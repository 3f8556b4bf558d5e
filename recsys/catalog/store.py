"""Writing the catalog: songs and artists upserted from staged rows, and takedowns.

Rows are first COPYed into a temporary table (``pg_temp.catalog_import``, dropped at commit),
then checked there (an id twice, an MBID/ISRC/Spotify URI another song has, two names for one
artist), counted (what would be inserted, updated, left as it is) and upserted by
``insert ... on conflict`` in set-based statements, all inside the caller's transaction: a
file or an API batch is written whole or not at all.

Upsert rules: a song or artist is found by its id (``song_id`` / ``artist_id``). A row equal
to the stored one changes nothing (not even ``updated_at``); a changed song gets
``updated_at = now()``. An optional column the row does not have keeps the stored value. An
artist's genre is set when the artist is created (the genre of its first song) and kept
after. Play counters, ``created_at`` and ``taken_down_at`` are never touched by an upsert.

Writes catalog.songs and catalog.artists; reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from recsys.catalog.rows import CatalogSong

STAGING = "pg_temp.catalog_import"
STAGED_COLUMNS = (
    "line", "song_id", "title", "artist_id", "artist", "genre", "duration_s", "album",
    "release_date", "image_url", "audio_url", "lyrics", "mbid", "isrc", "spotify_uri",
    "artist_mbid", "given",
)  # fmt: skip
# catalog.songs columns an upsert writes, and the optional ones among them
SONG_COLUMNS = (
    "title", "artist_id", "genre", "duration_s", "album", "release_date", "image_url",
    "audio_url", "lyrics", "mbid", "isrc", "spotify_uri",
)  # fmt: skip
OPTIONAL_SONG_COLUMNS = SONG_COLUMNS[4:]
UNIQUE_SONG_IDS = ("mbid", "isrc", "spotify_uri")


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class Plan:
    """What an upsert of the staged rows does (or did)."""

    songs: Counts
    artists: Counts
    lyrics_changed: int  # songs whose lyrics are new, changed or removed: to (re-)embed

    def as_dict(self) -> dict:
        return {
            "songs": self.songs.as_dict(),
            "artists": self.artists.as_dict(),
            "lyrics_changed": self.lyrics_changed,
        }


@dataclass(frozen=True)
class Conflict:
    """A staged row that cannot be written: its line (or batch index), field and why."""

    line: int
    field: str
    reason: str


# -- staging ----------------------------------------------------------------------------
def create_staging(conn) -> None:
    conn.execute(f"drop table if exists {STAGING}")
    conn.execute(
        """
        create temp table catalog_import (
            line integer not null, song_id text not null, title text not null,
            artist_id text not null, artist text not null, genre text not null,
            duration_s integer not null, album text, release_date date, image_url text,
            audio_url text, lyrics text, mbid text, isrc text, spotify_uri text,
            artist_mbid text, given text[] not null
        ) on commit drop
        """
    )


def staged_row(line: int, song: CatalogSong) -> tuple:
    return (
        line, song.song_id, song.title, song.artist_id, song.artist, song.genre,
        song.duration_s, song.album, song.release_date, song.image_url, song.audio_url,
        song.lyrics, song.mbid, song.isrc, song.spotify_uri, song.artist_mbid, song.given,
    )  # fmt: skip


def stage(conn, rows: Iterable[tuple[int, CatalogSong]]) -> int:
    """COPY ``(line, song)`` rows into the staging table (created first); returns how many."""
    create_staging(conn)
    return copy_rows(conn, rows)


def copy_rows(conn, rows: Iterable[tuple[int, CatalogSong]]) -> int:
    """COPY more rows into the existing staging table, streaming: ``rows`` may be a generator
    reading a file."""
    n = 0
    with conn.cursor().copy(f"copy {STAGING} ({', '.join(STAGED_COLUMNS)}) from stdin") as copy:
        for line, song in rows:
            copy.write_row(staged_row(line, song))
            n += 1
    conn.execute(f"analyze {STAGING}")  # temporary tables get no statistics otherwise
    return n


def drop_lines(conn, lines: list[int]) -> None:
    """Leave the rows of ``lines`` out of the upsert (``--skip-invalid``)."""
    conn.execute(f"delete from {STAGING} where line = any(%s)", (lines,))


# -- checks -----------------------------------------------------------------------------
def conflicts(conn) -> list[Conflict]:
    """Every staged row that cannot be written, by line: a song id, MBID, ISRC or Spotify
    URI given twice (the later rows), one another catalog song already has, and an artist
    given two names or two MBIDs (the rows disagreeing with its first)."""
    found = []
    for column, what in (("song_id", "song_id"), *((c, c) for c in UNIQUE_SONG_IDS)):
        found += [
            Conflict(line, what, f"{value!r} is already on line {first}")
            for line, value, first in conn.execute(
                f"""
                select line, {column}, first_line from (
                    select line, {column}, min(line) over (partition by {column}) as first_line
                    from {STAGING} where {column} is not null
                ) as d
                where line > first_line
                """
            )
        ]
    for column in UNIQUE_SONG_IDS:
        found += [
            Conflict(line, column, f"{value!r} belongs to the catalog's song {other!r}")
            for line, value, other in conn.execute(
                f"""
                select n.line, n.{column}, s.id
                from {STAGING} as n
                join catalog.songs as s on s.{column} = n.{column} and s.id <> n.song_id
                where not exists (
                    select 1 from {STAGING} as m
                    where m.song_id = s.id and '{column}' = any(m.given)
                )
                """
            )
        ]
    found += _artist_conflicts(conn)
    return sorted(found, key=lambda c: (c.line, c.field))


def _artist_conflicts(conn) -> list[Conflict]:
    found = [
        Conflict(line, "artist", f"{name!r} differs from {first!r} on line {first_line}"
                 f" for artist_id {artist_id!r}")
        for line, artist_id, name, first, first_line in conn.execute(
            f"""
            select line, artist_id, artist, first_value(artist) over w,
                   first_value(line) over w
            from {STAGING}
            window w as (partition by artist_id order by line)
            """
        )
        if name != first
    ]  # fmt: skip
    found += [
        Conflict(line, "artist_mbid", f"{mbid!r} differs from {first!r} on line {first_line}"
                 f" for artist_id {artist_id!r}")
        for line, artist_id, mbid, first, first_line in conn.execute(
            f"""
            select line, artist_id, artist_mbid, first_value(artist_mbid) over w,
                   first_value(line) over w
            from {STAGING} where artist_mbid is not null
            window w as (partition by artist_id order by line)
            """
        )
        if mbid != first
    ]  # fmt: skip
    found += [
        Conflict(line, "artist_mbid", f"{mbid!r} belongs to the artist {other!r}")
        for line, mbid, other in conn.execute(
            f"""
            select n.line, n.artist_mbid, o.artist_id from {STAGING} as n
            join (select distinct on (artist_mbid) artist_mbid, artist_id from (
                      select a.mbid as artist_mbid, a.id as artist_id, 0 as source
                      from catalog.artists as a
                      where a.mbid is not null and not exists (
                          select 1 from {STAGING} as m
                          where m.artist_id = a.id and 'artist_mbid' = any(m.given))
                      union all
                      select artist_mbid, artist_id, 1 from {STAGING}
                      where artist_mbid is not null
                  ) as owners order by artist_mbid, source, artist_id) as o
              on o.artist_mbid = n.artist_mbid and o.artist_id <> n.artist_id
            """
        )
    ]
    return found


# -- plan and upsert ----------------------------------------------------------------------
def _merged(column: str) -> str:
    """The value a song ends with: the row's, or the stored one when the row lacks it."""
    if column in OPTIONAL_SONG_COLUMNS:
        return f"case when '{column}' = any(n.given) then n.{column} else s.{column} end"
    return f"n.{column}"


_MERGED_SONGS = (
    f"select n.song_id as id, {', '.join(f'{_merged(c)} as {c}' for c in SONG_COLUMNS)}"
    f" from {STAGING} as n left join catalog.songs as s on s.id = n.song_id"
)
_ARTISTS = f"""
    select artist_id as id, (array_agg(artist order by line))[1] as name,
           (array_agg(genre order by line))[1] as genre,
           bool_or('artist_mbid' = any(given)) as mbid_given,
           (array_agg(artist_mbid order by line)
               filter (where 'artist_mbid' = any(given)))[1] as mbid
    from {STAGING} group by artist_id
"""
_MERGED_ARTISTS = f"""
    select n.id, n.name, n.genre, case when n.mbid_given then n.mbid else a.mbid end as mbid
    from ({_ARTISTS}) as n left join catalog.artists as a on a.id = n.id
"""


def _row(alias: str, columns) -> str:
    return "(" + ", ".join(f"{alias}.{c}" for c in columns) + ")"


def plan(conn) -> Plan:
    """What upserting the staged rows would change, without changing it."""
    songs = conn.execute(
        f"""
        select count(*) filter (where s.id is null),
               count(*) filter (where s.id is not null
                                and {_row("s", SONG_COLUMNS)} is distinct from
                                    {_row("m", SONG_COLUMNS)}),
               count(*) filter (where {_row("s", SONG_COLUMNS)} is not distinct from
                                      {_row("m", SONG_COLUMNS)}),
               count(*) filter (where m.lyrics is distinct from s.lyrics)
        from ({_MERGED_SONGS}) as m left join catalog.songs as s on s.id = m.id
        """
    ).fetchone()
    artists = conn.execute(
        f"""
        select count(*) filter (where a.id is null),
               count(*) filter (where a.id is not null
                                and (a.name, a.mbid) is distinct from (m.name, m.mbid)),
               count(*) filter (where (a.name, a.mbid) is not distinct from (m.name, m.mbid))
        from ({_MERGED_ARTISTS}) as m left join catalog.artists as a on a.id = m.id
        """
    ).fetchone()
    return Plan(Counts(*songs[:3]), Counts(*artists), songs[3])


def _counted(conn, upsert: str, staged: int) -> Counts:
    """Run an ``insert ... on conflict ... returning (xmax = 0)`` and count what it did: a
    row it inserted has no xmax, a row it updated has; a row left alone is not returned."""
    inserted, updated = conn.execute(
        f"with done as ({upsert} returning (existing.xmax = 0) as inserted)"
        " select count(*) filter (where inserted), count(*) filter (where not inserted)"
        " from done"
    ).fetchone()
    return Counts(inserted, updated, staged - inserted - updated)


def apply(conn) -> Plan:
    """Upsert the staged rows, artists first (songs reference them); returns what changed.
    Rows are written in id order, so two concurrent upserts lock rows in the same order."""
    lyrics_changed = plan(conn).lyrics_changed
    n_artists, n_songs = conn.execute(
        f"select count(distinct artist_id), count(*) from {STAGING}"
    ).fetchone()
    artists = _counted(
        conn,
        f"""
        insert into catalog.artists as existing (id, name, genre, mbid)
        select id, name, genre, mbid from ({_MERGED_ARTISTS}) as m order by id
        on conflict (id) do update set name = excluded.name, mbid = excluded.mbid
        where (existing.name, existing.mbid) is distinct from (excluded.name, excluded.mbid)
        """,
        n_artists,
    )
    assignments = ", ".join(f"{c} = excluded.{c}" for c in SONG_COLUMNS)
    songs = _counted(
        conn,
        f"""
        insert into catalog.songs as existing (id, {", ".join(SONG_COLUMNS)})
        select * from ({_MERGED_SONGS}) as m order by id
        on conflict (id) do update set {assignments}, updated_at = now()
        where {_row("existing", SONG_COLUMNS)} is distinct from {_row("excluded", SONG_COLUMNS)}
        """,
        n_songs,
    )
    return Plan(songs, artists, lyrics_changed)


# -- takedowns ----------------------------------------------------------------------------
def take_down(conn, song_id: str) -> tuple[datetime, bool] | None:
    """Take a song down: ``(taken_down_at, changed now)``, or None for an unknown song. A song
    already down keeps its first takedown time."""
    row = conn.execute(
        "update catalog.songs set taken_down_at = now(), updated_at = now()"
        " where id = %s and taken_down_at is null returning taken_down_at",
        (song_id,),
    ).fetchone()
    if row is not None:
        return row[0], True
    row = conn.execute("select taken_down_at from catalog.songs where id = %s", (song_id,))
    row = row.fetchone()
    return None if row is None else (row[0], False)


def restore(conn, song_id: str) -> bool | None:
    """Serve a taken-down song again: True if it was down, False if it was not, None for an
    unknown song."""
    row = conn.execute(
        "update catalog.songs set taken_down_at = null, updated_at = now()"
        " where id = %s and taken_down_at is not null returning id",
        (song_id,),
    ).fetchone()
    if row is not None:
        return True
    exists = conn.execute("select 1 from catalog.songs where id = %s", (song_id,)).fetchone()
    return None if exists is None else False


def taken_down(conn, limit: int = 100) -> list[tuple[str, str, str, datetime]]:
    """(song id, title, artist, taken down at) of the taken-down songs, latest first."""
    return conn.execute(
        "select s.id, s.title, a.name, s.taken_down_at from catalog.songs as s"
        " join catalog.artists as a on a.id = s.artist_id"
        " where s.taken_down_at is not null order by s.taken_down_at desc, s.id limit %s",
        (limit,),
    ).fetchall()
