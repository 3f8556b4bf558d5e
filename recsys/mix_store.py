"""The nightly mixes in PostgreSQL: the one owner of the ``mixes`` schema and of
``analytics.mix_engagement`` (migration 0022, docs/mixes.md).

The daily_mixes job writes a mix day whole (``write_day``): the day's rows replaced, its
run recorded and the active-day pointer moved, in one transaction, so a reader sees the
previous day's mixes or the new day's, never a mix of both; days older than the kept ones
go in the same transaction. The web app reads a listener's mixes of the active day in one
statement (``ACTIVE_MIXES_SQL``), leaving out songs taken down or disliked since the mixes
were built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MIX_KINDS = ("daily", "discovery")
MIX_COLUMNS = ("user_id", "position", "kind", "title", "cover_urls", "song_ids")
ENGAGEMENT_MEASURES = (
    "songs", "songs_played", "plays", "completes", "skips", "plays_from_mix",
    "skips_from_mix", "seconds_listened",
)  # fmt: skip


@dataclass(frozen=True)
class MixDay:
    mix_day: date
    model_version: int
    listeners: int
    mixes: int
    songs: int


def run_of_day(conn, day: date) -> MixDay | None:
    """The recorded build of mix day ``day``, if any."""
    row = conn.execute(
        "select mix_day, model_version, listeners, mixes, songs from mixes.runs where mix_day = %s",
        (day,),
    ).fetchone()
    return None if row is None else MixDay(*row)


def active_day(conn) -> date | None:
    """The mix day listeners are served; None before the first build."""
    row = conn.execute("select mix_day from mixes.active_day").fetchone()
    return None if row is None else row[0]


def write_day(
    conn,
    day: date,
    model_version: int,
    mixes: list[tuple],
    days_kept: int,
    dag_run_id: str | None = None,
) -> bool:
    """Replace mix day ``day`` with ``mixes`` (tuples in ``MIX_COLUMNS`` order) and serve it
    unless a newer day is served already (a backfill never moves listeners back); days
    more than ``days_kept`` before the served one are removed. One transaction; returns
    whether ``day`` is the served day afterwards."""
    listeners = len({m[0] for m in mixes})
    songs = sum(len(m[5]) for m in mixes)
    with conn.transaction():
        # two builds of mixes never interleave (a retry beside a backfill)
        conn.execute("select pg_advisory_xact_lock(hashtext('mixes.runs'))")
        conn.execute("delete from mixes.listener_mixes where mix_day = %s", (day,))
        conn.execute(
            "insert into mixes.runs (mix_day, model_version, listeners, mixes, songs,"
            " dag_run_id, built_at) values (%s, %s, %s, %s, %s, %s, now())"
            " on conflict (mix_day) do update set model_version = excluded.model_version,"
            " listeners = excluded.listeners, mixes = excluded.mixes, songs = excluded.songs,"
            " dag_run_id = excluded.dag_run_id, built_at = excluded.built_at",
            (day, model_version, listeners, len(mixes), songs, dag_run_id),
        )
        with conn.cursor().copy(
            f"copy mixes.listener_mixes (mix_day, {', '.join(MIX_COLUMNS)}) from stdin"
        ) as copy:
            for mix in mixes:
                copy.write_row((day, *mix))
        served = active_day(conn)
        if served is None or served <= day:
            conn.execute(
                "insert into mixes.active_day (singleton, mix_day, switched_at)"
                " values (true, %s, now()) on conflict (singleton) do update"
                " set mix_day = excluded.mix_day, switched_at = excluded.switched_at",
                (day,),
            )
            served = day
        conn.execute(
            "delete from mixes.runs where mix_day < %s::date - %s::int", (served, days_kept)
        )
    return served == day


def mixes_of_day(conn, day: date) -> list[tuple]:
    """(user_id, position, kind, song_ids) of every mix built for ``day``."""
    return conn.execute(
        "select user_id, position, kind, song_ids from mixes.listener_mixes where mix_day = %s"
        " order by user_id, position",
        (day,),
    ).fetchall()


def replace_engagement(conn, day: date, rows: list[tuple]) -> None:
    """Mix day ``day``'s rows of analytics.mix_engagement replaced by ``rows`` (user_id,
    position, kind, then ``ENGAGEMENT_MEASURES``), in one transaction."""
    columns = ("mix_day", "user_id", "position", "kind", *ENGAGEMENT_MEASURES)
    with conn.transaction():
        conn.execute("delete from analytics.mix_engagement where mix_day = %s", (day,))
        with conn.cursor().copy(
            f"copy analytics.mix_engagement ({', '.join(columns)}) from stdin"
        ) as copy:
            for row in rows:
                copy.write_row((day, *row))


# A listener's mixes of the served day, each song once per mix in its order, with what the
# player shows of it; songs taken down or disliked by the listener since the build are left
# out. One statement (one snapshot): the primary key's (mix_day, user_id) prefix.
ACTIVE_MIXES_SQL = """
    select m.mix_day, m.position, m.kind, m.title, m.cover_urls,
           s.id, s.title, a.name, s.album, s.genre, s.duration_s, s.image_url, s.audio_url
    from mixes.active_day as d
    join mixes.listener_mixes as m on m.mix_day = d.mix_day and m.user_id = %(user_id)s
    cross join lateral unnest(m.song_ids) with ordinality as u(song_id, n)
    join catalog.songs as s on s.id = u.song_id and s.taken_down_at is null
    join catalog.artists as a on a.id = s.artist_id
    where not exists (
        select 1 from catalog.song_feedback as f
        where f.user_id = %(user_id)s and f.song_id = u.song_id and f.feedback = 'dislike'
    )
    order by m.position, u.n
"""


def active_mixes(conn, user_id: str) -> tuple[date | None, list[dict]]:
    """(the served mix day, the listener's mixes of it: position, kind, title, cover_urls,
    songs (dicts of id, title, artist, album, genre, duration_s, image_url, audio_url)).
    A listener without mixes that day gets an empty list; a mix whose every song went is
    left out."""
    rows = conn.execute(ACTIVE_MIXES_SQL, {"user_id": user_id}).fetchall()
    day = rows[0][0] if rows else None
    mixes: dict[int, dict] = {}
    for row in rows:
        mix = mixes.setdefault(
            row[1],
            {"position": row[1], "kind": row[2], "title": row[3], "cover_urls": row[4],
             "songs": []},
        )  # fmt: skip
        mix["songs"].append(
            dict(zip(("id", "title", "artist", "album", "genre", "duration_s", "image_url",
                      "audio_url"), row[5:], strict=True))
        )  # fmt: skip
    for mix in mixes.values():  # a cover shows only songs still served
        shown = {song["image_url"] for song in mix["songs"]}
        mix["cover_urls"] = [url for url in mix["cover_urls"] if url in shown]
    return day, list(mixes.values())
