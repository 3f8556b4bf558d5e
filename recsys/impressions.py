"""The impression contract: one recommendation answer as served, on its own Kafka topic.

Every answer of ``GET /api/v1/recs/...`` (home page, next songs, and their trending or
cold-start fallbacks) has a ``rec_id``; its page is recorded as one impression: who, when,
on which surface, with which model version and mode, and the songs in the order shown with
their positions (1-based ranks of the whole list, so a second page starts after the first).
Events a client sends about a song it took from that list carry the same ``rec_id`` and the
song's ``position``, which ties a play, skip or like to the answer that caused it.

Pure: the web app writes these, the landing job reads them (``IMPRESSION_FIELDS`` is the
wire format and the lake's columns).

>>> record = impression("r1", "u1", "home", None, 3, "session", ["s2", "s1"], 0, 1700000000000)
>>> record["positions"], record["song_ids"]
([1, 2], ['s2', 's1'])
"""

from __future__ import annotations

import orjson

SURFACES = ("home", "up_next", "radio")  # radio: GET /recs/<user>/radio/<song>
# The wire format's fields, in order (and the lake's columns besides Kafka's coordinates).
IMPRESSION_FIELDS = (
    "rec_id", "user_id", "surface", "seed_song_id", "model_version", "mode", "experiment",
    "experiment_arm", "song_ids", "positions", "served_at",
)  # fmt: skip


def impression(
    rec_id: str,
    user_id: str,
    surface: str,
    seed_song_id: str | None,
    model_version: int | None,
    mode: str,
    song_ids: list[str],
    offset: int,
    served_at_ms: int,
    experiment: str | None = None,
    experiment_arm: str | None = None,
) -> dict:
    """One answer's impression (``offset``: the page's first position, minus one;
    ``experiment`` and ``experiment_arm``: the running experiment of the surface and the
    listener's arm in it, None outside any experiment)."""
    if surface not in SURFACES:
        raise ValueError(f"surface must be one of {SURFACES}, not {surface!r}")
    return {
        "rec_id": rec_id,
        "user_id": user_id,
        "surface": surface,
        "seed_song_id": seed_song_id,
        "model_version": model_version,
        "mode": mode,
        "experiment": experiment,
        "experiment_arm": experiment_arm,
        "song_ids": list(song_ids),
        "positions": list(range(offset + 1, offset + 1 + len(song_ids))),
        "served_at": served_at_ms,
    }


def encode(record: dict) -> bytes:
    """The Kafka message value: compact UTF-8 JSON, fields in contract order."""
    return orjson.dumps({k: record[k] for k in IMPRESSION_FIELDS})


def key(record: dict) -> bytes:
    """The Kafka message key: user_id, beside that listener's events."""
    return record["user_id"].encode()
