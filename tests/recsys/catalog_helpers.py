"""Shared by the catalog tests: the sample files, and removing what a test imported, so the
session's warehouse (shared with every other test) is left as the demo world had it."""

from __future__ import annotations

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
