"""Listening sessions in Redis: the short-term vector, recent plays and the stale-queue rule.

Keys per listener (``<u>`` is the user id):

- ``session:<u>:short``: ``{"version": model version, "vector": [...]}``, the EMA of the ALS
  item vectors of songs heard for ``play_min_seconds`` or completed; it expires after
  ``session_ttl_s`` without any event, and is ignored once another model version is served
  (its space is that model's).
- ``session:<u>:recent``: the newest ``recent_plays_kept`` song ids played (any action),
  excluded from recommendations. ``session:<u>:heard``: the same for qualifying plays, read
  for "because you listened to" reasons.
- ``session:<u>:skips``: the times of the last skips; ``queue_stale_skips`` of them within
  ``queue_stale_window_s`` mark the player's Up Next stale.
- ``vlong:<version>:<u>``: the listener's ALS user vector, cached per model version, so a
  model swap is seen at once.

Redis is never on the critical path: when it fails, ``SessionStore`` stops calling it for a few
seconds and callers fall back (events are still accepted, recommendations use the long-term
vector only).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import orjson
import redis

from recsys import model_registry as registry
from recsys.events import is_play
from recsys.model_registry import vectors
from recsys.settings import Settings

log = logging.getLogger(__name__)

# One atomic read-modify-write of the EMA; a vector of another model version is replaced.
EMA_SCRIPT = """
local new = cjson.decode(ARGV[2])
local version = tonumber(ARGV[1])
local current = redis.call('GET', KEYS[1])
if current then
  local old = cjson.decode(current)
  if old.version == version and #old.vector == #new then
    local w = tonumber(ARGV[3])
    for i = 1, #new do new[i] = w * old.vector[i] + (1 - w) * new[i] end
  end
end
redis.call('SET', KEYS[1], cjson.encode({version = version, vector = new}), 'EX', ARGV[4])
return 1
"""

BACKOFF_S = 5.0


class SessionsUnavailable(RuntimeError):
    """Redis did not answer; the caller degrades."""


@dataclass
class Play:
    """One accepted event, as the session store sees it."""

    user_id: str
    song_id: str
    action: str
    heard_s: int
    timestamp_ms: int
    playback_id: str | None = None


@dataclass
class Session:
    short_term: np.ndarray | None = None
    short_term_version: int | None = None
    recent: list[str] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    # the cached ALS user vector: None for a user the model does not know, False if not cached
    long_term: np.ndarray | None | bool = False


def _key(user_id: str, part: str) -> str:
    return f"session:{user_id}:{part}"


class SessionStore:
    def __init__(self, client: redis.Redis, settings: Settings):
        self.client = client
        self.settings = settings
        self._ema = client.register_script(EMA_SCRIPT)
        self._down_until = 0.0
        self._lock = threading.Lock()

    # -- availability -------------------------------------------------------------------
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _call(self, fn):
        if not self.available():
            raise SessionsUnavailable("session store backing off after a failure")
        try:
            return fn()
        except (redis.RedisError, OSError) as err:
            with self._lock:
                self._down_until = time.monotonic() + BACKOFF_S
            log.warning("redis failed, sessions degraded for %.0f s: %s", BACKOFF_S, err)
            raise SessionsUnavailable(str(err)) from err

    # -- writes: accepted events --------------------------------------------------------
    def qualifies(self, play: Play) -> bool:
        """Plays that move v_short: completes, and listens of at least play_min_seconds, each
        playback once (``recsys.events.is_play``)."""
        return is_play(play.action, play.heard_s, self.settings.play_min_seconds, play.playback_id)

    def record(
        self, plays: list[Play], song_vectors: dict[str, np.ndarray], version: int | None
    ) -> dict[str, bool]:
        """Apply accepted events in time order; returns ``{user_id: queue_stale}`` for the
        users who skipped. ``song_vectors`` holds the active model's item vectors."""
        s = self.settings
        by_user: dict[str, list[Play]] = defaultdict(list)
        for play in plays:
            by_user[play.user_id].append(play)

        def write():
            pipe = self.client.pipeline(transaction=False)
            skipped = []
            for user_id, user_plays in by_user.items():
                user_plays.sort(key=lambda p: p.timestamp_ms)
                self._queue_user(pipe, user_id, user_plays, song_vectors, version)
                if any(p.action == "skip" for p in user_plays):
                    skipped.append(user_id)
            # the skip lists are read last, so they are the tail of the results
            for user_id in skipped:
                pipe.lrange(_key(user_id, "skips"), 0, s.queue_stale_skips - 1)
            results = pipe.execute()
            return skipped, results[len(results) - len(skipped) :]

        skipped, skip_lists = self._call(write)
        window_ms = s.queue_stale_window_s * 1000
        stale = {}
        for user_id, times in zip(skipped, skip_lists, strict=True):
            times = [int(t) for t in times]
            stale[user_id] = (
                len(times) >= s.queue_stale_skips and max(times) - min(times) <= window_ms
            )
        return stale

    def _queue_user(self, pipe, user_id, plays, song_vectors, version) -> None:
        s = self.settings
        recent, heard, skips = (_key(user_id, p) for p in ("recent", "heard", "skips"))
        for play in plays:
            pipe.lpush(recent, play.song_id)
            if play.action == "skip":
                pipe.lpush(skips, play.timestamp_ms)
            if self.qualifies(play):
                pipe.lpush(heard, play.song_id)
                vector = song_vectors.get(play.song_id)
                if vector is not None and version is not None:
                    self._ema(
                        keys=[_key(user_id, "short")],
                        args=[
                            version,
                            orjson.dumps(vector.tolist()),
                            s.session_ema_weight,
                            s.session_ttl_s,
                        ],
                        client=pipe,
                    )
        pipe.ltrim(recent, 0, s.recent_plays_kept - 1)
        pipe.ltrim(heard, 0, s.recent_plays_kept - 1)
        pipe.ltrim(skips, 0, s.queue_stale_skips - 1)
        pipe.expire(recent, s.recent_plays_ttl_s)
        pipe.expire(heard, s.recent_plays_ttl_s)
        pipe.expire(skips, s.queue_stale_window_s)
        # any event is activity: the short-term vector lives on while the session does
        pipe.expire(_key(user_id, "short"), s.session_ttl_s)

    # -- reads --------------------------------------------------------------------------
    def session(self, user_id: str, version: int | None = None) -> Session:
        """The listener's session, and with ``version`` the cached long-term vector of that
        model version, in one round trip."""

        def read():
            pipe = self.client.pipeline(transaction=False)
            pipe.get(_key(user_id, "short"))
            pipe.lrange(_key(user_id, "recent"), 0, -1)
            pipe.lrange(_key(user_id, "heard"), 0, -1)
            if version is not None:
                pipe.get(f"vlong:{version}:{user_id}")
            return pipe.execute()

        short, recent, heard, *cached = self._call(read)
        session = Session(
            recent=list(dict.fromkeys(r.decode() for r in recent)),
            heard=list(dict.fromkeys(h.decode() for h in heard)),
        )
        if cached and cached[0] is not None:
            raw = cached[0]
            session.long_term = (
                np.frombuffer(raw, dtype=np.float32).astype(np.float64) if raw else None
            )
        if short:
            state = orjson.loads(short)
            session.short_term = np.asarray(state["vector"], dtype=np.float64)
            session.short_term_version = state["version"]
        return session

    def cache_long_term(self, version: int, user_id: str, vector: np.ndarray | None) -> None:
        """Cache the ALS user vector (an empty value records a user the model does not know)."""
        value = b"" if vector is None else vector.astype(np.float32).tobytes()
        self._call(
            lambda: self.client.set(
                f"vlong:{version}:{user_id}", value, ex=self.settings.long_term_cache_ttl_s
            )
        )

    def forget(self, user_id: str) -> None:
        """Drop a listener's session (tests, and a user asking to start over)."""
        self._call(
            lambda: self.client.delete(
                *(_key(user_id, p) for p in ("short", "recent", "heard", "skips"))
            )
        )


def record_accepted(store: SessionStore, pool, events: list[dict]) -> dict[str, bool] | None:
    """Move the sessions of accepted events (the event contract's dicts); returns
    ``{user_id: queue_stale}`` for users who skipped, or None when the session store is down.
    The events are already in Kafka: nothing here may fail the request."""
    if not events or not store.available():
        return None
    plays = [
        Play(
            e["user_id"],
            e["track_id"],
            e["action"],
            e["duration"],
            e["timestamp"],
            e.get("playback_id"),
        )
        for e in events
    ]
    qualifying = {p.song_id for p in plays if store.qualifies(p)}
    version, song_vectors = None, {}
    if qualifying:
        try:
            with pool.connection() as conn:
                version = registry.active_version(conn)
                if version is not None:
                    version, song_vectors = vectors.item_vectors(conn, qualifying)
        except Exception as err:  # the warehouse being slow or down must not fail the events
            log.warning("no item vectors for the session update: %s", err)
    try:
        return store.record(plays, song_vectors, version)
    except SessionsUnavailable:
        return None
    except Exception:  # a bug here must not turn stored events into an error for the client
        log.exception("session update failed; the events are stored")
        return None
