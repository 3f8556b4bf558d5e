"""A single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM),
from the Maven registry's jars. Data: ``<state>/kafka``. Creates the events topic with
broker append time as the message timestamp, which the play counters count by."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from recsys import jars
from recsys.settings import Settings
from recsysctl.stack.process import (
    ServiceError,
    log_path,
    port_open,
    read_pid,
    spawn,
    terminate,
    wait_until,
)

NAME = "kafka"
BROKER_POM = Path(__file__).parent / "maven" / "kafka-broker.pom.xml"
TOPIC_CONFIG = {"message.timestamp.type": "LogAppendTime", "retention.ms": str(30 * 86400_000)}


def _broker_address(settings: Settings) -> tuple[str, int]:
    host, _, port = settings.kafka_bootstrap_servers.split(",")[0].partition(":")
    return host, int(port or 9092)


def _server_properties(settings: Settings, data: Path) -> str:
    host, port = _broker_address(settings)
    return server_properties(
        node_id=1,
        host=host,
        port=port,
        quorum=f"controller.quorum.bootstrap.servers={host}:{port + 1}",
        data=data,
        partitions=settings.kafka_partitions,
        # One broker: every internal topic must live with a single replica.
        replicas=1,
        min_insync=1,
    )


def server_properties(
    node_id: int,
    host: str,
    port: int,
    quorum: str,
    data: Path,
    partitions: int,
    replicas: int,
    min_insync: int,
    extra: tuple[str, ...] = (),
) -> str:
    """A combined broker+controller node: PLAINTEXT on ``port``, its controller on
    ``port + 1``; ``quorum`` is the ``controller.quorum.*`` line naming the controllers.
    Internal topics get ``replicas`` copies and need ``min_insync`` of them."""
    controller = f"{host}:{port + 1}"
    return "\n".join(
        [
            "process.roles=broker,controller",
            f"node.id={node_id}",
            quorum,
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{controller}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={data / 'logs'}",
            f"num.partitions={partitions}",
            f"offsets.topic.replication.factor={replicas}",
            f"transaction.state.log.replication.factor={replicas}",
            f"transaction.state.log.min.isr={min_insync}",
            f"share.coordinator.state.topic.replication.factor={replicas}",
            f"share.coordinator.state.topic.min.isr={min_insync}",
            f"default.replication.factor={replicas}",
            f"min.insync.replicas={min_insync}",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            *extra,
            "",
        ]
    )


def log4j_config(settings: Settings, name: str = NAME) -> str:
    return "\n".join(
        [
            "status = warn",
            "appender.file.type = File",
            "appender.file.name = FILE",
            f"appender.file.fileName = {log_path(settings.state_dir, name + '-server')}",
            "appender.file.layout.type = PatternLayout",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n",
            "rootLogger.level = INFO",
            "rootLogger.appenderRef.file.ref = FILE",
            "",
        ]
    )


# A broker's heap: fixed at 1 GB as Kafka's own start script sizes it, and touched when the JVM
# starts. Otherwise the resident memory grows for the first minutes of traffic as the young
# generation is used for the first time, which looks like a leak and makes early requests pay
# for page faults; with it, growth means a leak.
BROKER_JVM = ("-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch")
# Kafka's command-line tools (formatting storage): short-lived, a heap that grows if needed.
TOOL_JVM = ("-Xms256m", "-Xmx1g")


def java_command(
    libs: Path, main: str, *args: str, log4j: Path | None = None, jvm: tuple = TOOL_JVM
) -> list[str]:
    argv = ["java", *jvm]
    if log4j:
        argv.append(f"-Dlog4j2.configurationFile={log4j}")
    return [*argv, "-cp", f"{libs}/*", main, *args]


def broker_command(libs: Path, props: Path, log4j: Path) -> list[str]:
    """A broker (and KRaft controller) JVM for the given server.properties."""
    return java_command(libs, "kafka.Kafka", str(props), log4j=log4j, jvm=BROKER_JVM)


def start(settings: Settings) -> None:
    if healthy(settings):
        ensure_topic(settings)
        return
    libs = jars.fetch(settings, BROKER_POM)
    data = Path(settings.state_dir) / NAME
    data.mkdir(parents=True, exist_ok=True)
    props = data / "server.properties"
    props.write_text(_server_properties(settings, data))
    log4j = data / "log4j2.properties"
    log4j.write_text(log4j_config(settings))
    if not (data / "logs" / "meta.properties").exists():
        format_storage(libs, props, log4j, new_cluster_id(), "--standalone")
    spawn(settings.state_dir, NAME, broker_command(libs, props, log4j))
    host, port = _broker_address(settings)
    wait_until(lambda: port_open(host, port), "Kafka", 60, log_path(settings.state_dir, NAME))
    ensure_topic(settings)


def new_cluster_id() -> str:
    """Kafka cluster ids are 16 random bytes in URL-safe base64 without padding, never
    starting with '-' (kafka-storage's ``-t`` would read one as an option and fail: one
    format in 64), as Kafka's own Uuid.randomUuid avoids it."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def format_storage(libs: Path, props: Path, log4j: Path, cluster_id: str, *options: str) -> None:
    """Write a node's KRaft metadata (its cluster id and the quorum) into its log dirs."""
    result = subprocess.run(
        java_command(
            libs,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(props),
            *options,
            log4j=log4j,
        ),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ServiceError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")


def ensure_topic(
    settings: Settings, replication_factor: int | None = None, topic_configs: dict | None = None
) -> None:
    """Create the events topic and the impressions topic unless they exist
    (``replication_factor`` defaults to the setting; ``topic_configs`` are added to the
    topics' own configuration)."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=20000
    )
    try:
        existing = set(admin.list_topics())
        for topic in (settings.kafka_topic, settings.kafka_impressions_topic):
            if topic in existing:
                continue
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            topic,
                            settings.kafka_partitions,
                            replication_factor or settings.kafka_replication_factor,
                            topic_configs={**TOPIC_CONFIG, **(topic_configs or {})},
                        )
                    ]
                )
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def stop(settings: Settings) -> bool:
    return terminate(settings.state_dir, NAME, timeout_s=60)


def running(settings: Settings) -> bool:
    return read_pid(settings.state_dir, NAME) is not None


def healthy(settings: Settings) -> bool:
    host, port = _broker_address(settings)
    return port_open(host, port)
