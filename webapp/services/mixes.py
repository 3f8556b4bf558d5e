"""A listener's nightly mixes as the API answers them: the served day's mixes from
PostgreSQL (recsys.mix_store), built by the daily_mixes DAG. One indexed statement; songs
taken down or disliked since the build are left out at read. Read-only."""

from __future__ import annotations

from recsys import mix_store


def listener_mixes(conn, user_id: str) -> dict | None:
    """{user_id, mix_day, items: [mix]} for a listener; None for an unknown listener (a
    known one without mixes gets no items)."""
    day, mixes = mix_store.active_mixes(conn, user_id)
    if not mixes:
        known = conn.execute("select 1 from catalog.users where id = %s", (user_id,)).fetchone()
        if known is None:
            return None
    return {
        "user_id": user_id,
        "mix_day": day.isoformat() if day else None,
        "items": mixes,
    }
