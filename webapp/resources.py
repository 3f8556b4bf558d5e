"""Per-process connections the web app shares between requests: a PostgreSQL pool, a Kafka
producer, and a Redis client with the session store on it. Each is created on first use,
after gunicorn has forked, never at import time, and closed with the app."""

from __future__ import annotations

import threading

import psycopg_pool
import redis
from flask import Flask, current_app
from kafka import KafkaProducer

from recsys.settings import Settings
from webapp.services.sessions import SessionStore

_lock = threading.Lock()


class Resources:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._producer: KafkaProducer | None = None
        self._redis: redis.Redis | None = None
        self._sessions: SessionStore | None = None

    @property
    def pool(self) -> psycopg_pool.ConnectionPool:
        if self._pool is None:
            with _lock:
                if self._pool is None:
                    self._pool = psycopg_pool.ConnectionPool(
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
        return self._pool

    def _configure_connection(self, conn) -> None:
        """Nearest-neighbour settings of every pooled session (see webapp/services/vectors)."""
        conn.execute(
            "select set_config('hnsw.ef_search', %s, false),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', false)",
            (str(self.settings.hnsw_ef_search),),
        )

    @property
    def producer(self) -> KafkaProducer:
        """The idempotent, acks=all producer; raises kafka errors when no broker answers."""
        if self._producer is None:
            with _lock:
                if self._producer is None:
                    self._producer = make_producer(self.settings)
        return self._producer

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(
                self.settings.redis_url, socket_timeout=1, socket_connect_timeout=1
            )
        return self._redis

    @property
    def sessions(self) -> SessionStore:
        """Listening sessions (short-term vectors, recent plays) in Redis."""
        if self._sessions is None:
            with _lock:
                if self._sessions is None:
                    self._sessions = SessionStore(self.redis, self.settings)
        return self._sessions

    def reset_producer(self) -> None:
        """Replace the producer with a fresh one on the next request (see
        EventSink._note_failure). The old one is closed in the background, so sends still
        in flight on it finish or expire as usual instead of being cut off."""
        with _lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            timeout = self.settings.kafka_send_timeout_s + 1
            threading.Thread(
                target=producer.close, kwargs={"timeout": timeout}, daemon=True
            ).start()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
        if self._pool is not None:
            self._pool.close()


def make_producer(settings: Settings) -> KafkaProducer:
    """A producer whose every wait is bounded so a request answers within the send timeout:
    an event the request did not see acknowledged has also expired in the producer."""
    timeout_ms = int(settings.kafka_send_timeout_s * 1000)
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        acks="all",
        enable_idempotence=True,
        linger_ms=1,
        batch_size=256 * 1024,
        compression_type=None,
        max_block_ms=timeout_ms,
        request_timeout_ms=max(timeout_ms - 500, 1000),
        delivery_timeout_ms=timeout_ms,
        reconnect_backoff_max_ms=1000,
        bootstrap_timeout_ms=min(timeout_ms, 2000),
    )


def resources() -> Resources:
    return current_app.extensions["recsys"]


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["recsys"] = Resources(settings)
