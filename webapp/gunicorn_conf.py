"""gunicorn settings read from this module (``gunicorn -c python:webapp.gunicorn_conf``), by
the local stack (recsysctl/stack/webapp.py) and the container alike."""

import json
import os

from gunicorn import util

from webapp.security import SECURITY_HEADERS, request_id_from

# Request lines up to gunicorn's own maximum reach the app, which answers a URL over
# webapp.MAX_URL_LENGTH (4,096) with a 414 in the API's JSON shape naming the field.
limit_request_line = 8190

# Every log line one JSON object: gunicorn's error and access logs and the app's loggers,
# with the request id of the request being answered (webapp/logs.py).
logger_class = "webapp.logs.GunicornLogger"


def on_starting(server):
    """What gunicorn still answers itself (a line over 8,190 bytes, a header field over
    limit_request_field_size, a request it cannot parse) comes in the API's JSON error shape
    too, not as an HTML page. Set in the master, so every forked worker has it."""
    util.write_error = write_json_error


def write_json_error(sock, status_int, reason, mesg):
    """gunicorn.util.write_error's answer, as ``{"error", "message", "errors", "request_id"}``
    JSON with the app's security headers. The request was not read, so its id is a new one."""
    request_id = request_id_from(None)
    body = {"error": reason.lower().replace(" ", "_"), "message": mesg or reason}
    field = {414: "url", 431: "headers"}.get(status_int)
    if field:
        body["errors"] = [{"field": field, "reason": mesg or reason}]
    body["request_id"] = request_id
    payload = json.dumps(body).encode()
    headers = {**SECURITY_HEADERS, "X-Request-ID": request_id}
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "\r\n"
    )
    util.write_nonblock(sock, head.encode("latin1") + payload)


def child_exit(server, worker):
    """A worker's gauges leave the Prometheus totals with it (see webapp/metrics.py)."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
