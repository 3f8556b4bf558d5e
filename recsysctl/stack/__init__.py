"""The local stack: every real component of the warehouse on one machine, no Docker.

Services start in dependency order and stop in reverse. Each service module offers
``start(settings)``, ``stop(settings)`` and ``healthy(settings)``; state lives under
``settings.state_dir`` and survives ``down``/``up``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from recsys.settings import Settings
from recsysctl.stack import airflow, kafka, postgres, redis, webapp


@dataclass(frozen=True)
class Service:
    name: str
    module: ModuleType
    address: str
    data: str


def services(settings: Settings) -> list[Service]:
    state = settings.state_dir
    return [
        Service(
            "postgres",
            postgres,
            f"{settings.postgres_host}:{settings.postgres_port}",
            f"{state}/postgres",
        ),
        Service("redis", redis, settings.redis_url, f"{state}/redis"),
        Service("kafka", kafka, settings.kafka_bootstrap_servers, f"{state}/kafka"),
        Service("airflow", airflow, settings.airflow_url, f"{state}/airflow"),
        Service("webapp", webapp, settings.webapp_url, "(stateless)"),
    ]
