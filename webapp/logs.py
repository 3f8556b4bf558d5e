"""The web app's logs as one JSON object a line, the app's own and gunicorn's alike.

Every line has ``time`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, and
``request_id`` when it was written while answering a request (webapp/security.py sets the
id). gunicorn's access lines add ``method``, ``path`` (the route, such as
``/api/v1/recs/<user_id>``: never the query string), ``status`` and ``duration_ms``.

gunicorn loads ``GunicornLogger`` (``logger_class`` in webapp/gunicorn_conf.py); it writes
to gunicorn's error log (stderr unless ``--error-logfile``) and access log
(``--access-logfile``), and sends the app's loggers to the error log.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import g, has_request_context
from gunicorn.glogging import Logger
from pythonjsonlogger.json import JsonFormatter

# Keys the app leaves in the WSGI environ for gunicorn's access line, written after the
# request context is gone.
ENVIRON_REQUEST_ID = "recsys.request_id"
ENVIRON_ROUTE = "recsys.route"

# The app's own loggers log at INFO; libraries (kafka-python chats at INFO) only warnings.
APP_LOGGERS = ("webapp", "recsys")


class _TimeFirst(JsonFormatter):
    """python-json-logger's formatter with the time (UTC, milliseconds) as the first key, so
    a line reads in the order one scans a log."""

    def add_fields(self, log_data, record, message_dict):
        log_data["time"] = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
            timespec="milliseconds"
        )
        super().add_fields(log_data, record, message_dict)


def json_formatter() -> logging.Formatter:
    return _TimeFirst(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


class RequestIdFilter(logging.Filter):
    """Adds the id of the request being answered to a record that has none."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            request_id = g.get("request_id")
            if request_id:
                record.request_id = request_id
        return True


class GunicornLogger(Logger):
    """gunicorn's logger writing JSON lines; the app's loggers share its error log."""

    def setup(self, cfg):
        super().setup(cfg)
        formatter, request_ids = json_formatter(), RequestIdFilter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)
                handler.addFilter(request_ids)
        root = logging.getLogger()
        for handler in list(root.handlers):  # a configuration reload runs setup again
            if getattr(handler, "_gunicorn", False):
                root.removeHandler(handler)
        for handler in self.error_log.handlers:  # the same file, reopened with it
            root.addHandler(handler)
        root.setLevel(logging.WARNING)
        for name in APP_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = int(status.split(None, 1)[0])
        method = environ.get("REQUEST_METHOD", "-")
        path = environ.get(ENVIRON_ROUTE) or environ.get("PATH_INFO", "-")
        fields = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
        }
        if environ.get(ENVIRON_REQUEST_ID):
            fields["request_id"] = environ[ENVIRON_REQUEST_ID]
        self.access_log.info("%s %s %s", method, path, status, extra=fields)
