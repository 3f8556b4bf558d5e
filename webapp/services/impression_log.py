"""Recording recommendation answers as impressions (recsys.impressions) without making any
request wait for Kafka.

A request only appends its impression to a bounded in-process queue (``record``: never
blocks, never raises). One daemon thread per process drains it into Kafka with its own
producer, made when first needed and again after a failure. The thread wakes at most every
DRAIN_EVERY_S, sends what accumulated as one batch and waits for its acknowledgements: under
load the request threads lose a few wake-ups a second to it rather than one per answer (a
send per answer cost the home page 15% of its throughput). Whatever cannot be queued (the
queue is full: Kafka has been away for a while) or sent (no broker, no acknowledgement in
time) is counted as lost in ``/metrics`` (``recsys_impressions{outcome="lost"}``): with
Kafka down, recommendations answer as usual and the loss is visible.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from kafka import KafkaProducer

from recsys import impressions
from recsys.events import producer_config
from recsys.settings import Settings
from webapp import metrics

log = logging.getLogger(__name__)
QUEUE_SIZE = 10_000
RETRY_AFTER_S = 2.0
# How long impressions gather before the thread sends them (they need no hurry).
DRAIN_EVERY_S = 0.1
BATCH_MAX = 2_000


class ImpressionLog:
    def __init__(self, settings: Settings, queue_size: int = QUEUE_SIZE):
        self.settings = settings
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._producer: KafkaProducer | None = None
        self._closed = False

    def record(self, record: dict) -> None:
        """Queue one impression for Kafka; counted as lost when the queue is full. Nothing
        when RECSYS_IMPRESSIONS_ENABLED is off."""
        if not self.settings.impressions_enabled:
            return
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            metrics.IMPRESSIONS.labels("lost").inc()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._drain, name="impression-log", daemon=True
                )
                self._thread.start()

    def _drain(self) -> None:
        while not self._closed:
            try:
                record = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            time.sleep(DRAIN_EVERY_S)  # let the answers of the next moments join it
            batch = [record]
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._send(batch)
            for _ in batch:
                self._queue.task_done()

    def _send(self, batch: list[dict]) -> None:
        """Send ``batch`` and wait for its acknowledgements (at most the producer's delivery
        timeout); each impression is counted sent or lost."""
        futures = []
        try:
            producer = self._get_producer()
            topic = self.settings.kafka_impressions_topic
            for record in batch:
                futures.append(
                    producer.send(
                        topic, key=impressions.key(record), value=impressions.encode(record)
                    )
                )
            producer.flush(timeout=self.settings.kafka_send_timeout_s)
        except Exception as err:  # no broker, a send refused, or no acknowledgement in time
            log.warning("impressions may be lost (%s): %s", len(batch), err)
            self._reset()
            time.sleep(RETRY_AFTER_S)
        sent = sum(1 for f in futures if f.succeeded())
        metrics.IMPRESSIONS.labels("sent").inc(sent)
        if len(batch) - sent:
            metrics.IMPRESSIONS.labels("lost").inc(len(batch) - sent)
            log.warning("%s impressions were not acknowledged", len(batch) - sent)

    def _get_producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(**producer_config(self.settings))
        return self._producer

    def _reset(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception:  # closing a broken producer must not stop the thread
                log.debug("closing the impressions producer failed", exc_info=True)

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until every queued impression was handed to Kafka and acknowledged or lost
        (tests, and the app's shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._producer is not None:
            self._producer.flush(timeout=max(deadline - time.monotonic(), 0.1))

    def close(self) -> None:
        self.flush(timeout_s=5)
        self._closed = True
        self._reset()
