"""The floor of one event per request: a Flask app under the same gunicorn (workers, threads)
that only parses the body and publishes it with the API's producer settings, waiting for the
acknowledgement like the API does. No contract, catalog, rate limit, metrics or session: what
an HTTP request carrying one event costs on this machine before any of the API's work.

    gunicorn bench.bare_event_app:app   (bench/ingest.py starts it on a free port)
"""

from __future__ import annotations

import orjson
from flask import Flask, Response, request
from kafka import KafkaProducer

from recsys import events
from recsys.settings import load_settings

settings = load_settings()
app = Flask(__name__)
_producers: list[KafkaProducer] = []  # one per worker process, made on its first request


def _producer() -> KafkaProducer:
    if not _producers:
        _producers.append(KafkaProducer(**events.producer_config(settings)))
    return _producers[0]


@app.post("/api/v1/logs/event")
def log_event():
    event = orjson.loads(request.get_data())
    future = _producer().send(
        settings.kafka_topic, key=event["user_id"].encode(), value=orjson.dumps(event)
    )
    future.get(timeout=settings.kafka_send_timeout_s)
    return Response(b'{"status":"accepted"}', status=202, mimetype="application/json")
