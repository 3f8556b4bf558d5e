"""Three Apache Kafka nodes in KRaft mode on one machine: each is a broker and a controller,
the three controllers form one quorum, and the events topic keeps three replicas of which two
must acknowledge every write. It is the smallest cluster that survives losing any one node
without losing an acknowledged event, which is what the reliability tests prove.

The nodes are the ``settings.kafka_bootstrap_servers`` list (exactly three ``host:port``
entries; each node's controller listens on ``port + 1``), built from the same jars as the
single-node stack (:mod:`recsysctl.stack.kafka`). Data: ``<state>/kafka-cluster/node-<id>``;
logs and pid files are named ``kafka-node-<id>``.

    RECSYS_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096 \\
        python -m recsysctl.stack.kafka_cluster start | status | stop-node 2 | start-node 2 | stop
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from recsys import jars
from recsys.settings import Settings, load_settings
from recsysctl.stack import kafka
from recsysctl.stack.process import (
    ServiceError,
    log_path,
    pid_alive,
    pid_path,
    port_open,
    read_pid,
    spawn,
    terminate,
    wait_until,
)

NAME = "kafka-cluster"
NODE_COUNT = 3
# Writes need two of the three replicas: one node may be down, and an acknowledged event
# is then still on two disks.
MIN_INSYNC_REPLICAS = 2
# Loopback nodes on one machine: a node that stops heartbeating is fenced (and its
# partitions moved) after 6 s rather than the default 9 s. Long enough for a busy 2-core
# machine not to fence a live node.
FAILOVER = ("broker.session.timeout.ms=6000", "broker.heartbeat.interval.ms=1000")


@dataclass(frozen=True)
class Node:
    node_id: int
    host: str
    port: int

    @property
    def name(self) -> str:
        return f"kafka-node-{self.node_id}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def voter(self) -> str:
        return f"{self.node_id}@{self.host}:{self.port + 1}"


def nodes(settings: Settings) -> list[Node]:
    entries = [e.strip() for e in settings.kafka_bootstrap_servers.split(",") if e.strip()]
    if len(entries) != NODE_COUNT:
        raise ServiceError(
            f"a Kafka cluster needs RECSYS_KAFKA_BOOTSTRAP_SERVERS to list {NODE_COUNT} "
            f"host:port entries, got {settings.kafka_bootstrap_servers!r}"
        )
    out = []
    for node_id, entry in enumerate(entries, start=1):
        host, _, port = entry.partition(":")
        out.append(Node(node_id, host, int(port or 9092)))
    return out


def node(settings: Settings, node_id: int) -> Node:
    for candidate in nodes(settings):
        if candidate.node_id == node_id:
            return candidate
    raise ServiceError(f"no Kafka node {node_id}; nodes are 1 to {NODE_COUNT}")


def _data_dir(settings: Settings, n: Node) -> Path:
    return Path(settings.state_dir) / NAME / f"node-{n.node_id}"


def _configure(settings: Settings, n: Node) -> tuple[Path, Path]:
    """Write the node's server and log configuration; return their paths."""
    data = _data_dir(settings, n)
    data.mkdir(parents=True, exist_ok=True)
    voters = ",".join(other.voter for other in nodes(settings))
    props = data / "server.properties"
    props.write_text(
        kafka.server_properties(
            node_id=n.node_id,
            host=n.host,
            port=n.port,
            quorum=f"controller.quorum.voters={voters}",
            data=data,
            partitions=settings.kafka_partitions,
            replicas=NODE_COUNT,
            min_insync=MIN_INSYNC_REPLICAS,
            extra=FAILOVER,
        )
    )
    log4j = data / "log4j2.properties"
    log4j.write_text(kafka.log4j_config(settings, n.name))
    return props, log4j


def _spawn_nodes(settings: Settings, chosen: list[Node]) -> None:
    """Configure, format (first time only) and start the chosen nodes."""
    libs = jars.fetch(settings, kafka.BROKER_POM)
    cluster_id = _cluster_id(settings)
    configs = {n.node_id: _configure(settings, n) for n in chosen}
    unformatted = [
        configs[n.node_id]
        for n in chosen
        if not (_data_dir(settings, n) / "logs" / "meta.properties").exists()
    ]
    # Static voters: every node is formatted alike, no --standalone. In parallel: each
    # format is a JVM start, slow on a busy machine.
    with ThreadPoolExecutor(max_workers=NODE_COUNT) as pool:
        list(pool.map(lambda c: kafka.format_storage(libs, *c, cluster_id), unformatted))
    for n in chosen:
        props, log4j = configs[n.node_id]
        spawn(settings.state_dir, n.name, kafka.broker_command(libs, props, log4j))


def _cluster_id(settings: Settings) -> str:
    path = Path(settings.state_dir) / NAME / "cluster.id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(kafka.new_cluster_id())
    return path.read_text().strip()


def start(settings: Settings) -> None:
    """Start every node that is not running, then create the replicated topic."""
    _spawn_nodes(settings, [n for n in nodes(settings) if not read_pid(settings.state_dir, n.name)])
    for n in nodes(settings):
        _wait_listening(settings, n)
    kafka.ensure_topic(
        settings,
        replication_factor=NODE_COUNT,
        topic_configs={"min.insync.replicas": str(MIN_INSYNC_REPLICAS)},
    )
    wait_in_sync(settings, 60)


def start_node(settings: Settings, node_id: int) -> None:
    """Start one node again (a no-op while it runs); it catches up from the others."""
    n = node(settings, node_id)
    if not read_pid(settings.state_dir, n.name):
        _spawn_nodes(settings, [n])
    _wait_listening(settings, n)


def _wait_listening(settings: Settings, n: Node) -> None:
    wait_until(
        lambda: port_open(n.host, n.port),
        f"Kafka node {n.node_id}",
        90,
        log_path(settings.state_dir, n.name),
    )


def stop_node(settings: Settings, node_id: int, sig: int = signal.SIGTERM) -> bool:
    """Stop one node: SIGTERM lets it shut down in order (leadership handed over first),
    SIGKILL is a crash. True if it was running."""
    n = node(settings, node_id)
    if sig == signal.SIGTERM:
        return terminate(settings.state_dir, n.name, timeout_s=60)
    pid = read_pid(settings.state_dir, n.name)
    pid_path(settings.state_dir, n.name).unlink(missing_ok=True)
    if pid is None:
        return False
    try:
        os.killpg(os.getpgid(pid), sig)
    except ProcessLookupError:
        return False
    wait_until(lambda: not pid_alive(pid), f"Kafka node {node_id} to exit", 30)
    return True


def stop(settings: Settings) -> bool:
    """SIGTERM every node at once, SIGKILL whatever still runs after 30 s: a node left
    without a quorum (two of three voters) waits for it during its shutdown."""
    running = [n for n in nodes(settings) if read_pid(settings.state_dir, n.name)]
    pids = [pid for n in running if (pid := read_pid(settings.state_dir, n.name))]
    for pid in pids:
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.3)
    for n in running:  # SIGKILLs whatever is left, removes the pid files
        terminate(settings.state_dir, n.name, timeout_s=0)
    return bool(running)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(os.getpgid(pid), sig)
    except ProcessLookupError:
        pass


def running_nodes(settings: Settings) -> list[int]:
    return [n.node_id for n in nodes(settings) if read_pid(settings.state_dir, n.name)]


def healthy(settings: Settings) -> bool:
    return all(port_open(n.host, n.port) for n in nodes(settings))


def partitions(settings: Settings) -> list[dict]:
    """The events topic's partitions as the cluster reports them: leader, replicas, isr."""
    from kafka.admin import KafkaAdminClient

    listening = [n.address for n in nodes(settings) if port_open(n.host, n.port)]
    if not listening:
        raise ServiceError("no Kafka node is listening")
    admin = KafkaAdminClient(bootstrap_servers=listening, request_timeout_ms=5000)
    try:
        # The client may first pick a node that just went down; it then backs off that
        # node, so the next attempt goes to another.
        for attempt in range(NODE_COUNT + 1):
            try:
                (topic,) = admin.describe_topics([settings.kafka_topic])
                return sorted(topic["partitions"], key=lambda p: p["partition_index"])
            except Exception:
                if attempt == NODE_COUNT:
                    raise
                time.sleep(0.2)
    finally:
        admin.close()
    raise AssertionError("unreachable")


def in_sync(settings: Settings) -> bool:
    """Every partition has a leader and all its replicas in sync."""
    try:
        parts = partitions(settings)
    except Exception:  # no broker answered, or the topic is not there yet
        return False
    return bool(parts) and all(
        p["leader_id"] >= 0 and sorted(p["isr_nodes"]) == sorted(p["replica_nodes"]) for p in parts
    )


def wait_in_sync(settings: Settings, timeout_s: float) -> None:
    wait_until(lambda: in_sync(settings), "Kafka replicas in sync", timeout_s)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "status", "stop-node", "start-node"])
    parser.add_argument("node_id", nargs="?", type=int, help="for stop-node / start-node")
    parser.add_argument("--kill", action="store_true", help="stop-node with SIGKILL (a crash)")
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.command in ("stop-node", "start-node") and args.node_id is None:
        parser.error(f"{args.command} needs a node id (1 to {NODE_COUNT})")
    if args.command == "start":
        start(settings)
    elif args.command == "stop":
        stop(settings)
    elif args.command == "stop-node":
        stop_node(settings, args.node_id, signal.SIGKILL if args.kill else signal.SIGTERM)
    elif args.command == "start-node":
        start_node(settings, args.node_id)
    up = running_nodes(settings)
    print(f"Kafka nodes running: {up or 'none'} of {[n.node_id for n in nodes(settings)]}")
    if up:
        for p in partitions(settings):
            print(
                f"  {settings.kafka_topic}[{p['partition_index']}] leader {p['leader_id']}"
                f" replicas {p['replica_nodes']} in sync {p['isr_nodes']}"
            )
    sys.exit(0 if args.command == "stop" or len(up) == NODE_COUNT else 1)


if __name__ == "__main__":
    main()
