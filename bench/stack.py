"""A throwaway stack for one benchmark run: settings on free ports under a temporary folder,
with the services asked for started and the demo catalog loaded; stopped and removed after."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from recsys import db, demo
from recsys.settings import load_settings
from recsys.stack import postgres
from recsys.stack.isolated import isolated_environment, stop_all


@contextmanager
def throwaway_stack(world_size: str, *services):
    """Yield (settings, world): PostgreSQL migrated with ``world_size``'s catalog, plus the
    given service modules (e.g. kafka, redis, webapp) started in order."""
    base = Path(tempfile.mkdtemp(prefix="recsys-bench-"))
    os.environ.update(isolated_environment(base))
    settings = load_settings()
    try:
        postgres.start(settings)
        db.migrate(settings)
        world = demo.generate_world(world_size)
        with db.connect(settings) as conn:
            demo.load_catalog(conn, world)
        for service in services:
            service.start(settings)
        yield settings, world
    finally:
        stop_all(settings)
        shutil.rmtree(base, ignore_errors=True)
