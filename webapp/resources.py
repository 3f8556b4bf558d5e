"""Every per-process object the web app shares between requests, on one ``Resources``: the
PostgreSQL pool, the Kafka producer, the Redis client with the session store, rate limiter,
event sink, recommender and impression log on it, and the registry ``/metrics`` serves.

Each is created on first use, after gunicorn has forked, never at import time, and closed
with the app. ``resources()`` is this app's (flaskr's ``get_db`` for all of them).
"""

from __future__ import annotations

import threading

import psycopg_pool
import redis
from flask import Flask, current_app
from kafka import KafkaProducer

from recsys.events import producer_config
from recsys.identity.tokens import TokenConfig, TokenVerifier
from recsys.settings import Settings
from webapp.services.event_sink import EventSink
from webapp.services.impression_log import ImpressionLog
from webapp.services.recs import Recommender
from webapp.services.sessions import SessionStore
from webapp.services.similar_read import KeptSimilar


class Resources:
    def __init__(self, settings: Settings):
        self.settings = settings
        # Re-entrant: building one object may need another (the recommender, the sessions).
        self._lock = threading.RLock()
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._producer: KafkaProducer | None = None
        self._redis: redis.Redis | None = None
        self._sessions: SessionStore | None = None
        self._limiter = None
        self._event_sink: EventSink | None = None
        self._recommender: Recommender | None = None
        self._similar_songs: KeptSimilar | None = None
        self._impression_log: ImpressionLog | None = None
        self._metrics_registry = None
        self._verifier: TokenVerifier | None = None

    def _once(self, name: str, build):
        """The object kept as ``name``, built by ``build()`` the first time (by one thread)."""
        value = getattr(self, name)
        if value is None:
            with self._lock:
                value = getattr(self, name)
                if value is None:
                    value = build()
                    setattr(self, name, value)
        return value

    @property
    def pool(self) -> psycopg_pool.ConnectionPool:
        return self._once("_pool", self._make_pool)

    def _make_pool(self) -> psycopg_pool.ConnectionPool:
        return psycopg_pool.ConnectionPool(
            self.settings.postgres_dsn,
            min_size=1,
            max_size=max(4, self.settings.webapp_threads),
            timeout=5,
            # reads are single statements: autocommit spares BEGIN and COMMIT
            kwargs={"connect_timeout": 3, "autocommit": True},
            configure=self._configure_connection,
            open=True,
            name="webapp",
        )

    def _configure_connection(self, conn) -> None:
        """Nearest-neighbour settings of every pooled session (recsys.model_registry.vectors)."""
        conn.execute(
            "select set_config('hnsw.ef_search', %s, false),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', false)",
            (str(self.settings.hnsw_ef_search),),
        )

    @property
    def producer(self) -> KafkaProducer:
        """The idempotent, acks=all producer; raises kafka errors when no broker answers."""
        return self._once("_producer", lambda: make_producer(self.settings))

    @property
    def redis(self) -> redis.Redis:
        return self._once(
            "_redis",
            lambda: redis.Redis.from_url(
                self.settings.redis_url, socket_timeout=1, socket_connect_timeout=1
            ),
        )

    @property
    def sessions(self) -> SessionStore:
        """Listening sessions (short-term vectors, recent plays) in Redis."""
        return self._once("_sessions", lambda: SessionStore(self.redis, self.settings))

    @property
    def limiter(self):
        """The per-client token buckets of the rate limits (webapp.ratelimit), in Redis."""
        from webapp.ratelimit import RateLimiter  # it reaches this object through resources()

        return self._once("_limiter", lambda: RateLimiter(self.redis))

    @property
    def event_sink(self) -> EventSink:
        """Checks listening events and publishes them to Kafka."""
        return self._once(
            "_event_sink",
            lambda: EventSink(
                self.settings, lambda: self.pool, lambda: self.producer, self.reset_producer
            ),
        )

    @property
    def recommender(self) -> Recommender:
        return self._once("_recommender", lambda: Recommender(self.settings, self.sessions))

    @property
    def similar_songs(self) -> KeptSimilar:
        """The similar songs kept in this worker (webapp.services.similar_read)."""
        return self._once(
            "_similar_songs",
            lambda: KeptSimilar(
                self.settings.similar_songs_kept, self.settings.similar_songs_cache_s
            ),
        )

    @property
    def impression_log(self) -> ImpressionLog:
        """Recommendation answers on their way to Kafka, never waited for."""
        return self._once("_impression_log", lambda: ImpressionLog(self.settings))

    @property
    def verifier(self) -> TokenVerifier:
        """Checks bearer tokens; keeps the identity provider's keys (recsys.identity.jwks)."""
        return self._once(
            "_verifier", lambda: TokenVerifier(TokenConfig.from_settings(self.settings))
        )

    @property
    def metrics_registry(self):
        """What ``GET /metrics`` serves: every worker's samples and the pipeline's numbers."""
        from webapp.metrics_endpoint import scrape_registry

        return self._once("_metrics_registry", lambda: scrape_registry(lambda: self.pool))

    def reset_producer(self) -> None:
        """Replace the producer with a fresh one on the next request (see
        EventSink._note_failure). The old one is closed in the background, so sends still
        in flight on it finish or expire as usual instead of being cut off."""
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            timeout = self.settings.kafka_send_timeout_s + 1
            threading.Thread(
                target=producer.close, kwargs={"timeout": timeout}, daemon=True
            ).start()

    def close(self) -> None:
        if self._impression_log is not None:
            self._impression_log.close()
        if self._producer is not None:
            self._producer.close(timeout=5)
        if self._pool is not None:
            self._pool.close()


def make_producer(settings: Settings) -> KafkaProducer:
    """A producer of the event log with its one configuration (recsys.events.producer_config):
    every wait bounded so a request answers within the send timeout."""
    return KafkaProducer(**producer_config(settings))


def resources() -> Resources:
    return current_app.extensions["recsys"]


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["recsys"] = Resources(settings)
