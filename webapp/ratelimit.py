"""Per-client rate limits of the event and recommendation endpoints: a token bucket per
(group, client) in Redis, so every gunicorn worker shares it.

A client may make ``rate`` requests per second on average and spend ``burst_s`` seconds'
worth at once. Over the limit it gets 429 with ``Retry-After`` (whole seconds until a
request would pass). The client is the peer address, or the address
``webapp_proxy_hops`` trusted proxies put in X-Forwarded-For (see ``webapp.create_app``).

Redis is never on the critical path: while it does not answer, each worker keeps its own
buckets in memory (a client then gets up to its limit once per worker) and retries Redis
after a few seconds. Each worker's limiter is ``resources().limiter``.

Why not Flask-Limiter: its strategies (the ``limits`` package: fixed window, moving window,
sliding window counter) have no token bucket. The closest, a moving window of
``rate * burst_s`` requests per ``burst_s`` seconds, makes a client that spent its burst wait
until its oldest request leaves the window (``burst_s`` seconds, 5 by default) instead of
``1 / rate`` seconds for the next token, and takes whole numbers of requests only, where
``RECSYS_RATE_LIMIT_*_PER_S`` may be 0.5.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time

import redis
from flask import current_app, request

from webapp import metrics
from webapp.errors import ApiError
from webapp.identity import known_caller
from webapp.resources import resources

log = logging.getLogger(__name__)

# KEYS the buckets (the client's address, and the caller's when known); ARGV rate/s,
# capacity. A request passes only if every bucket has a token, and then takes one from each.
# Returns {allowed 0|1, seconds to wait}.
BUCKET_SCRIPT = """
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels, wait = {}, 0
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  tokens = math.min(capacity, tokens + math.max(now - at, 0) * rate)
  if tokens < 1 then wait = math.max(wait, (1 - tokens) / rate) end
  levels[i] = tokens
end
local allowed = 0
if wait == 0 then allowed = 1 end
for i, key in ipairs(KEYS) do
  local tokens = levels[i]
  if allowed == 1 then tokens = tokens - 1 end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(capacity / rate * 1000) + 1000)
end
return {allowed, tostring(wait)}
"""

BACKOFF_S = 5.0
LOCAL_BUCKETS_MAX = 100_000


class LocalBuckets:
    """The same token buckets in this process's memory (Redis unavailable)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, keys: list[str], rate: float, capacity: float) -> float:
        """Seconds to wait before a request would pass (every bucket of ``keys`` having a
        token); 0 when this one passes, and took one from each."""
        now = self._clock()
        with self._lock:
            if len(self._buckets) > LOCAL_BUCKETS_MAX:
                self._buckets.clear()
            levels = []
            for key in keys:
                tokens, at = self._buckets.get(key, (capacity, now))
                levels.append(min(capacity, tokens + max(now - at, 0.0) * rate))
            wait = max((1 - tokens) / rate if tokens < 1 else 0.0 for tokens in levels)
            for key, tokens in zip(keys, levels, strict=True):
                self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now)
        return wait


class RateLimiter:
    def __init__(self, redis_client: redis.Redis, clock=time.monotonic):
        self._script = redis_client.register_script(BUCKET_SCRIPT)
        self._clock = clock
        self._local = LocalBuckets(clock)
        self._redis_down_until = 0.0

    def take(
        self, group: str, client: str, rate: float, burst_s: float, caller: str | None = None
    ) -> float:
        """Take one request from the client address's bucket and, for a signed-in
        listener, from the listener's (wherever they call from): 0 if it passes, else
        seconds to wait. A service's token speaks for many listeners: its address's bucket
        is its limit."""
        keys = [f"ratelimit:{group}:{client}"]
        if caller is not None:
            keys.append(f"ratelimit:{group}:caller:{caller}")
        capacity = max(rate * burst_s, 1.0)
        if self._clock() >= self._redis_down_until:
            try:
                allowed, wait = self._script(keys=keys, args=[rate, capacity])
                return 0.0 if int(allowed) else float(wait)
            except redis.RedisError as err:
                log.warning("rate limits kept per process for %.0f s: %s", BACKOFF_S, err)
                self._redis_down_until = self._clock() + BACKOFF_S
        return self._local.take(keys, rate, capacity)


def limited(group: str):
    """Decorate a view: it answers 429 once the client is over the ``group``'s limit
    (setting ``rate_limit_<group>_per_s``; 0 turns the limit off)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            settings = current_app.config["RECSYS"]
            rate = getattr(settings, f"rate_limit_{group}_per_s")
            if rate > 0:
                who = known_caller()
                wait = resources().limiter.take(
                    group,
                    request.remote_addr or "-",
                    rate,
                    settings.rate_limit_burst_s,
                    who.subject if who is not None and who.kind == "listener" else None,
                )
                if wait > 0:
                    metrics.RATE_LIMITED.labels(group).inc()
                    retry_after = max(1, math.ceil(wait))
                    raise ApiError(
                        429,
                        "rate_limited",
                        f"too many {group} requests from this client or listener: at most"
                        f" {rate:g} per second; retry after {retry_after} s",
                        headers={"Retry-After": str(retry_after)},
                    )
            return view(*args, **kwargs)

        return wrapper

    return decorate
