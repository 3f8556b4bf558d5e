"""A deterministic demo music world and its listening history, for demos, tests and benchmarks.

``world`` generates artists, songs and users shaped like the ``catalog`` tables, plus the
hidden truth behind them (tastes, popularity, moods), and writes/reads them as JSON files;
``history`` turns that truth into contract events (see ``recsys.events``); ``catalog``
upserts a world into ``catalog.artists``, ``catalog.songs`` and ``catalog.users``;
``vocabulary`` holds the words everything is drawn from. The same ``(size, seed)`` always
gives the same world and the same history.

Example
-------
>>> from datetime import datetime, timezone
>>> from recsysctl import demo
>>> world = demo.generate_world("small")
>>> events = list(demo.generate_history(world, end=datetime(2025, 1, 1, tzinfo=timezone.utc)))
>>> events[0]["source"]
'simulation'
"""

from recsysctl.demo.catalog import CATALOG_COLUMNS, load_catalog
from recsysctl.demo.history import (
    DAY_MS,
    ListeningModel,
    Playbacks,
    event_ids,
    generate_history,
    listening_model,
    playback_events,
    playbacks,
    session_lengths,
)
from recsysctl.demo.vocabulary import GENRES, MOODS
from recsysctl.demo.world import (
    DEFAULT_SEED,
    SIZES,
    Size,
    Taste,
    World,
    generate_world,
    read_world,
    write_world,
)

__all__ = [
    "CATALOG_COLUMNS",
    "DAY_MS",
    "DEFAULT_SEED",
    "GENRES",
    "MOODS",
    "SIZES",
    "ListeningModel",
    "Playbacks",
    "Size",
    "Taste",
    "World",
    "event_ids",
    "generate_history",
    "generate_world",
    "listening_model",
    "load_catalog",
    "playback_events",
    "playbacks",
    "read_world",
    "session_lengths",
    "write_world",
]
