"""Every service of the local stack, in the order they start (they stop in reverse)."""

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
