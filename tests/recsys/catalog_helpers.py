"""Shared by the catalog tests: the sample files, and removing what a test imported, so the
session's warehouse (shared with every other test) is left as the demo world had it."""

from __future__ import annotations

import sqlite3

from recsys.settings import PROJECT_ROOT

SAMPLES = PROJECT_ROOT / "data" / "samples" / "catalog"
SAMPLE_CSV = SAMPLES / "catalog.csv"
SAMPLE_JSONL = SAMPLES / "catalog.jsonl"
SAMPLE_BAD = SAMPLES / "catalog_bad.csv"
# the ids of the samples' songs and artists (the demo world's are s00001, a0001, ...)
SAMPLE_PREFIXES = ("trk-", "art-")


def remove_songs(conn, *prefixes: str) -> None:
    """Delete the songs and then the artists whose ids start with one of ``prefixes``."""
    patterns = [p + "%" for p in prefixes]
    with conn.transaction():
        conn.execute("delete from catalog.songs where id like any(%s)", (patterns,))
        conn.execute(
            "delete from catalog.artists as a where a.id like any(%s)"
            " and not exists (select 1 from catalog.songs as s where s.artist_id = a.id)",
            (patterns,),
        )


def catalog_rows(conn, *prefixes: str) -> dict[str, list[tuple]]:
    """Every column an import writes, of the songs and artists under ``prefixes``, sorted:
    two equal results are two equal catalogs (timestamps aside)."""
    patterns = [p + "%" for p in prefixes]
    songs = conn.execute(
        "select id, title, artist_id, album, genre, duration_s, release_date, image_url,"
        " audio_url, lyrics, mbid, isrc, spotify_uri, plays_cumulative, plays_7d,"
        " taken_down_at from catalog.songs where id like any(%s) order by id",
        (patterns,),
    ).fetchall()
    artists = conn.execute(
        "select id, name, genre, mbid from catalog.artists where id like any(%s) order by id",
        (patterns,),
    ).fetchall()
    return {"songs": songs, "artists": artists}


SYNCED = (
    "[ar:Neon Harbor Club]\n[ti:Pulse Garden]\n[length: 05:54]\n"
    "[00:12.10] Wires in the garden\n[00:15.80]humming in the <00:17.00>dark\n[00:19.00]\n"
    "[00:19.50]\n[00:21.40][01:05.00] pulse, pulse, pulse\n"
)
# (track id, title, artist, album, duration, plain, synced, instrumental); None: no lyrics row
TRACKS = [
    (
        1,
        "Slow Weather",
        "the quiet ferns",
        "Millpond Songs",
        201.4,
        "grey sky over the ferns",
        None,
        0,
    ),
    (2, "PULSE GARDEN", "Neon Harbor Club feat. Someone", None, 354.0, None, SYNCED, 0),
    (3, "Harbor at 4 AM", "Neon Harbor Club", None, 252.0, "too long to match", None, 0),
    (4, "Blue Pier Shuffle", "Okonjo & the Tidewater", None, 266.9, "the farther one", None, 0),
    (5, "Blue Pier Shuffle", "Okonjo and the Tidewater", None, 265.2, "the nearer one", None, 0),
    (6, "Lantern Suite: I. Dusk", "Brass Lantern Ensemble", None, 412.0, None, None, 1),
    (7, "Paper Lanterns", "The Quiet Ferns", None, 214.0, "other words entirely", None, 0),
    (8, "Salt Air Ballád", "Okonjo and the Tidewater", None, 398.0, "salt on the lips", None, 0),
    (9, "Unknown Song", "Nobody", None, 200.0, "la la", None, 0),
    (10, "Lemonade Parade", "Lumi Karvo", None, 176.0, None, None, 0),
    (11, "Say It Twice", "Lumi Karvo", None, 195.0, None, None, None),
]


def build_lrclib_dump(path) -> None:
    """A dump in LRCLIB's schema: tracks pointing at their latest lyrics row."""
    dump = sqlite3.connect(path)
    dump.executescript(
        """
        create table tracks (id integer primary key, name text, name_lower text,
            artist_name text, artist_name_lower text, album_name text, album_name_lower text,
            duration float, last_lyrics_id integer, created_at datetime, updated_at datetime);
        create table lyrics (id integer primary key, plain_lyrics text, synced_lyrics text,
            track_id integer, has_plain_lyrics boolean, has_synced_lyrics boolean,
            instrumental boolean, source text, created_at datetime, updated_at datetime);
        """
    )
    for track, title, artist, album, duration, plain, synced, instrumental in TRACKS:
        lyrics_id = None if instrumental is None else 100 + track
        dump.execute(
            "insert into tracks values (?, ?, ?, ?, ?, ?, ?, ?, ?, null, null)",
            (
                track,
                title,
                title.lower(),
                artist,
                artist.lower(),
                album,
                album and album.lower(),
                duration,
                lyrics_id,
            ),
        )
        if lyrics_id is not None:
            dump.execute(
                "insert into lyrics values (?, ?, ?, ?, ?, ?, ?, 'lrclib', null, null)",
                (
                    lyrics_id,
                    plain,
                    synced,
                    track,
                    plain is not None,
                    synced is not None,
                    instrumental,
                ),
            )
    dump.commit()
    dump.close()
