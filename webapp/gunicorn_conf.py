"""gunicorn settings read from this module (``gunicorn -c python:webapp.gunicorn_conf``)."""

import os


def child_exit(server, worker):
    """A worker's gauges leave the Prometheus totals with it (see webapp/metrics.py)."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
