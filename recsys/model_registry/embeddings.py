"""The lyrics embeddings' side of the registry: ``model.lyrics_embeddings`` (one vector per
song, with the md5 of the lyrics it was computed from) and ``model.embedding_runs`` (one row
per run of the lyrics_embeddings job: counts, duration, status).

Written by the lyrics_embeddings job; read by the admin API and page. Serving's searches
over the vectors are in ``vectors``.
"""

from __future__ import annotations

from psycopg.rows import dict_row

from recsys import db

# Scalar subqueries for statements that report on the embeddings (the /metrics scrape).
LAST_SUCCESS_SQL = (
    "(select extract(epoch from finished_at) from model.embedding_runs"
    " where status = 'succeeded' order by finished_at desc limit 1)"
)
SONGS_EMBEDDED_SQL = "(select count(*) from model.lyrics_embeddings)"

RUN_COUNTS = (
    "songs_total",
    "songs_without_lyrics",
    "songs_unchanged",
    "songs_embedded",
    "embeddings_removed",
)


def songs_and_stored_md5(conn) -> list[tuple[str, str | None, str | None]]:
    """(song id, lyrics, md5 of the lyrics its stored vector was computed from) of every
    catalog song; the md5 is None for a song without a vector."""
    return conn.execute(
        "select s.id, s.lyrics, e.lyrics_md5 from catalog.songs as s"
        " left join model.lyrics_embeddings as e on e.song_id = s.id"
    ).fetchall()


def lock_for_writing(conn) -> None:
    """Runs started by hand may overlap a scheduled one: they write one at a time (held to
    the end of the current transaction)."""
    conn.execute("select pg_advisory_xact_lock(hashtext('model.lyrics_embeddings'))")


def upsert(conn, dimension: int, rows_csv: bytes) -> int:
    """Upsert vectors given as COPY CSV rows ``song_id, lyrics_md5, [v1,v2,...]``; a song
    deleted from the catalog meanwhile is left out. Returns the rows written."""
    conn.execute(
        f"create temp table new_lyrics_embeddings (song_id text, lyrics_md5 text,"
        f" embedding vector({int(dimension)})) on commit drop"
    )
    db.copy_rows(conn, "new_lyrics_embeddings", "song_id, lyrics_md5, embedding", rows_csv)
    return conn.execute(
        """
        insert into model.lyrics_embeddings as e (song_id, lyrics_md5, embedding, embedded_at)
        select n.song_id, n.lyrics_md5, n.embedding, now()
        from new_lyrics_embeddings as n
        join catalog.songs as s on s.id = n.song_id
        on conflict (song_id) do update set
            lyrics_md5 = excluded.lyrics_md5, embedding = excluded.embedding,
            embedded_at = excluded.embedded_at
        """
    ).rowcount


def remove(conn, song_ids: list[str]) -> int:
    return conn.execute(
        "delete from model.lyrics_embeddings where song_id = any(%s)", (song_ids,)
    ).rowcount


def start_run(conn, dag_run_id: str | None, model_name: str) -> int:
    """A run's row, as running; returns its id."""
    return conn.execute(
        "insert into model.embedding_runs (dag_run_id, model_name) values (%s, %s) returning id",
        (dag_run_id, model_name),
    ).fetchone()[0]


def finish_run(conn, run_id: int, counts: dict[str, int], duration_s: float) -> None:
    """The run succeeded with ``counts`` (every name of RUN_COUNTS)."""
    conn.execute(
        """
        update model.embedding_runs set
            songs_total = %(songs_total)s, songs_without_lyrics = %(songs_without_lyrics)s,
            songs_unchanged = %(songs_unchanged)s, songs_embedded = %(songs_embedded)s,
            embeddings_removed = %(embeddings_removed)s, status = 'succeeded',
            finished_at = now(), duration_s = %(duration_s)s
        where id = %(run_id)s
        """,
        {**{name: counts[name] for name in RUN_COUNTS}, "duration_s": duration_s, "run_id": run_id},
    )


def fail_run(conn, run_id: int, duration_s: float) -> None:
    conn.execute(
        "update model.embedding_runs set status = 'failed', finished_at = now(),"
        " duration_s = %s where id = %s",
        (duration_s, run_id),
    )


def run_of_dag_run(conn, dag_run_id: str) -> dict | None:
    """The newest embedding run the Airflow run recorded: its counts, status and duration."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"select {', '.join(RUN_COUNTS)}, status, duration_s from model.embedding_runs"
            " where dag_run_id = %s order by id desc limit 1",
            (dag_run_id,),
        ).fetchone()


def latest_run(conn) -> dict | None:
    """The newest embedding run, whatever started it."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select id, dag_run_id, model_name, status, songs_total, songs_embedded,"
            " songs_unchanged, songs_without_lyrics, started_at, finished_at, duration_s"
            " from model.embedding_runs order by started_at desc, id desc limit 1"
        ).fetchone()
