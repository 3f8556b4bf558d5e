"""The catalog as a history import reads and writes it: the songs and artists to match
against, and, once the file has passed its checks, the listeners it names
(``catalog.users``, display name = id) and the songs ``--create-missing`` adds (genre
'unknown'), inserted where missing in one transaction, so a re-run inserts nothing new.
"""

from __future__ import annotations

from recsys.importers.matching import UNKNOWN_GENRE, CatalogIndex, CreatedSong


def load_index(conn) -> CatalogIndex:
    songs = conn.execute(
        "select s.id, s.title, a.name, s.mbid, s.spotify_uri, s.duration_s"
        " from catalog.songs as s join catalog.artists as a on a.id = s.artist_id"
    ).fetchall()
    artists = conn.execute("select id, name from catalog.artists").fetchall()
    return CatalogIndex.from_rows(songs, artists)


def write_catalog(conn, users: set[str], created: list[CreatedSong]) -> dict[str, int]:
    """Insert the missing users, artists and songs; how many of each were new."""
    artists = sorted({(c.artist_id, c.artist_name) for c in created if not c.artist_exists})
    songs = sorted((c.song_id, c.title, c.artist_id, UNKNOWN_GENRE, c.duration_s) for c in created)
    rows = {
        "users": [(user, user) for user in sorted(users)],
        "artists": [(artist_id, name, UNKNOWN_GENRE) for artist_id, name in artists],
        "songs": songs,
    }
    inserts = {
        "users": "insert into catalog.users (id, display_name) values (%s, %s)",
        "artists": "insert into catalog.artists (id, name, genre) values (%s, %s, %s)",
        "songs": "insert into catalog.songs (id, title, artist_id, genre, duration_s)"
        " values (%s, %s, %s, %s, %s)",
    }
    new = {}
    with conn.transaction(), conn.cursor() as cur:
        for table in ("users", "artists", "songs"):  # artists before the songs naming them
            ids = [row[0] for row in rows[table]]
            known = cur.execute(
                f"select count(*) from catalog.{table} where id = any(%s)", (ids,)
            ).fetchone()[0]
            if ids:
                cur.executemany(inserts[table] + " on conflict (id) do nothing", rows[table])
            new[table] = len(ids) - known
    return new
