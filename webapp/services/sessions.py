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

The listener's ALS user vector is not kept here: the home page's one read takes it inside
PostgreSQL (webapp/services/home_read.py).

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

from recsys.events import FEEDBACK_ACTIONS, is_play
from recsys.settings import Settings
from webapp.services.served_vectors import ServedItemVectors

log = logging.getLogger(__name__)

# A batch's session update in one command: per listener (KEYS in fours: recent, heard, skips,
# short), push the plays in time order, move the short-term vector (an EMA; one of another
# model version is replaced), trim and expire; then answer per listener 0 (no skip), 1
# (skipped) or 2 (skipped, and the player's queue is now stale). One round trip, atomic, and
# no client-side command per list push: at one event per request, the commands' encoding was
# a quarter of the request's time.
SESSION_SCRIPT = """
local version = tonumber(ARGV[1])
local w, session_ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local kept, kept_ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local stale_skips, window_ms = tonumber(ARGV[6]), tonumber(ARGV[7]) * 1000
local listeners = cjson.decode(ARGV[8])
local answers = {}
for u = 1, #listeners do
  local recent, heard, skips, short = KEYS[4*u-3], KEYS[4*u-2], KEYS[4*u-1], KEYS[4*u]
  local vector, skipped = nil, false
  for _, play in ipairs(listeners[u]) do
    -- play: {song, skipped (0/1), qualifies (0/1), timestamp_ms, item vector or false}
    redis.call('LPUSH', recent, play[1])
    if play[2] == 1 then
      redis.call('LPUSH', skips, play[4])
      skipped = true
    end
    if play[3] == 1 then
      redis.call('LPUSH', heard, play[1])
      local new = play[5]
      if version and type(new) == 'table' then
        if vector == nil then
          local current = redis.call('GET', short)
          vector = false
          if current then
            local old = cjson.decode(current)
            if old.version == version then vector = old.vector end
          end
        end
        if vector and #vector == #new then
          for i = 1, #new do new[i] = w * vector[i] + (1 - w) * new[i] end
        end
        vector = new
      end
    end
  end
  if vector then
    redis.call('SET', short, cjson.encode({version = version, vector = vector}), 'EX', session_ttl)
  else
    -- any event is activity: the short-term vector lives on while the session does
    redis.call('EXPIRE', short, session_ttl)
  end
  redis.call('LTRIM', recent, 0, kept - 1)
  redis.call('LTRIM', heard, 0, kept - 1)
  redis.call('LTRIM', skips, 0, stale_skips - 1)
  redis.call('EXPIRE', recent, kept_ttl)
  redis.call('EXPIRE', heard, kept_ttl)
  redis.call('EXPIRE', skips, ARGV[7])
  local answer = 0
  if skipped then
    answer = 1
    local times = redis.call('LRANGE', skips, 0, stale_skips - 1)
    if #times >= stale_skips then
      local newest, oldest = tonumber(times[1]), tonumber(times[1])
      for _, t in ipairs(times) do
        t = tonumber(t)
        if t > newest then newest = t end
        if t < oldest then oldest = t end
      end
      if newest - oldest <= window_ms then answer = 2 end
    end
  end
  answers[u] = answer
end
return answers
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


def _key(user_id: str, part: str) -> str:
    return f"session:{user_id}:{part}"


class SessionStore:
    def __init__(self, client: redis.Redis, settings: Settings):
        self.client = client
        self.settings = settings
        self._update = client.register_script(SESSION_SCRIPT)
        self.item_vectors = ServedItemVectors()
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
        """Apply accepted events in time order, in one atomic command; returns
        ``{user_id: queue_stale}`` for the users who skipped. ``song_vectors`` holds the
        active model's item vectors."""
        s = self.settings
        by_user: dict[str, list[Play]] = defaultdict(list)
        for play in plays:
            by_user[play.user_id].append(play)
        keys, listeners = [], []
        for user_id, user_plays in by_user.items():
            user_plays.sort(key=lambda p: p.timestamp_ms)
            keys.extend(_key(user_id, part) for part in ("recent", "heard", "skips", "short"))
            listeners.append([self._encode(play, song_vectors) for play in user_plays])
        args = [
            "" if version is None else version,
            s.session_ema_weight,
            s.session_ttl_s,
            s.recent_plays_kept,
            s.recent_plays_ttl_s,
            s.queue_stale_skips,
            s.queue_stale_window_s,
            orjson.dumps(listeners, option=orjson.OPT_SERIALIZE_NUMPY),
        ]
        answers = self._call(lambda: self._update(keys=keys, args=args))
        return {
            user_id: answer == 2 for user_id, answer in zip(by_user, answers, strict=True) if answer
        }

    def _encode(self, play: Play, song_vectors: dict[str, np.ndarray]) -> list:
        qualifies = self.qualifies(play)
        vector = song_vectors.get(play.song_id) if qualifies else None
        return [
            play.song_id,
            int(play.action == "skip"),
            int(qualifies),
            str(play.timestamp_ms),  # a string: Lua would print a large number in e-notation
            False if vector is None else vector,
        ]

    # -- reads --------------------------------------------------------------------------
    def session(self, user_id: str) -> Session:
        """The listener's session, in one round trip."""

        def read():
            pipe = self.client.pipeline(transaction=False)
            pipe.get(_key(user_id, "short"))
            pipe.lrange(_key(user_id, "recent"), 0, -1)
            pipe.lrange(_key(user_id, "heard"), 0, -1)
            return pipe.execute()

        short, recent, heard = self._call(read)
        session = Session(
            recent=list(dict.fromkeys(r.decode() for r in recent)),
            heard=list(dict.fromkeys(h.decode() for h in heard)),
        )
        if short:
            state = orjson.loads(short)
            session.short_term = np.asarray(state["vector"], dtype=np.float64)
            session.short_term_version = state["version"]
        return session

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
    events = [e for e in events if e["action"] not in FEEDBACK_ACTIONS]  # no plays
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
            version, song_vectors = store.item_vectors.lookup(pool, qualifying)
        except Exception as err:  # the warehouse being slow or down must not fail the events
            log.warning("no item vectors for the session update: %s", err)
    try:
        return store.record(plays, song_vectors, version)
    except SessionsUnavailable:
        return None
    except Exception:  # a bug here must not turn stored events into an error for the client
        log.exception("session update failed; the events are stored")
        return None
