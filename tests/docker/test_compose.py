"""The production-shaped deployment (docker/), checked without a Docker engine.

Reads docker/compose.yaml and the Dockerfiles it builds; writes nothing. Each check names the
service (or Dockerfile) at fault: settings that do not exist, images not pinned to an exact
version, services without a health check, data outside named volumes, secrets written into
the file, and a Kafka cluster or topic that could lose an acknowledged event.
"""

from __future__ import annotations

import glob
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from recsys.settings import PROJECT_ROOT, documented_settings

DOCKER_DIR = PROJECT_ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
NAMED_VOLUMES = set(COMPOSE.get("volumes") or {})
SETTING_DEFAULTS = {name: default for name, default, _doc, _secret in documented_settings()}

SETTING_NAME = re.compile(r"RECSYS_[A-Z0-9_]+")
# Compose interpolation: ${NAME}, ${NAME:-default}, ${NAME:?message} ($${...} is an escape).
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
REQUIRED_FROM_ENVIRONMENT = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}$")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY")
URL_CREDENTIALS = re.compile(r"://[^/\s:@]*:([^@\s/]+)@")
EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+")


def environment(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {key: (value if sep else None) for key, sep, value in pairs}
    return {key: None if value is None else str(value) for key, value in env.items()}


def strings(node) -> list[str]:
    """Every key and string value in a piece of compose configuration."""
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (str(key), *strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [str(node)] if node is not None else []


def with_compose_defaults(value: str) -> str:
    """``value`` as compose would interpolate it with nothing set: ${X:-d} becomes d."""
    return INTERPOLATION.sub(
        lambda m: m.group(3) if m.group(2) in ("-", ":-") else m.group(0), value
    )


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def command_text(service: dict) -> str:
    command = service.get("command") or ""
    return command if isinstance(command, str) else " ".join(str(part) for part in command)


def image_pinned(reference: str) -> bool:
    """A digest, or a tag naming an exact version (major.minor.patch, then any variant):
    not ``latest``, not a moving ``3.11`` or ``pg18``, and no variable, which could be anything.
    """
    if "$" in reference:
        return False
    if "@sha256:" in reference:
        return True
    name = reference.rsplit("/", 1)[-1]  # a host:port before the last / is not a tag
    _, sep, tag = name.partition(":")
    return bool(sep) and tag != "latest" and EXACT_VERSION.match(tag) is not None


# --- Dockerfiles ---------------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    result, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        pending += " " + stripped.removesuffix("\\")
        if not stripped.endswith("\\"):
            keyword, _, arguments = pending.strip().partition(" ")
            result.append((keyword.upper(), arguments.strip()))
            pending = ""
    return result


def built_dockerfiles() -> dict[Path, Path]:
    """Each Dockerfile compose builds, with its build context."""
    built = {}
    for service in SERVICES.values():
        build = service.get("build")
        if build:
            build = {"context": build} if isinstance(build, str) else build
            context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
            built[(context / build.get("dockerfile", "Dockerfile")).resolve()] = context
    return built


BUILT = built_dockerfiles()
DOCKERFILES = sorted(set(DOCKER_DIR.glob("*Dockerfile")) | set(BUILT))


def unpinned_bases(dockerfile: Path) -> list[str]:
    stages, unpinned = set(), []
    for keyword, arguments in instructions(dockerfile):
        if keyword != "FROM":
            continue
        words = [w for w in arguments.split() if not w.startswith("--")]
        base = words[0]
        if len(words) >= 3 and words[1].lower() == "as":
            stages.add(words[2])
        if base not in stages and base != "scratch" and not image_pinned(base):
            unpinned.append(base)
    return unpinned


def copy_sources(arguments: str) -> list[str] | None:
    """The sources of a COPY/ADD from the build context; None when it copies from a stage."""
    if arguments.startswith("["):
        words = json.loads(arguments)
    else:
        words = shlex.split(arguments)
    if any(w.startswith("--from=") for w in words):
        return None
    paths = [w for w in words if not w.startswith("--") and not w.startswith("<<")]
    return paths[:-1]


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_recsys_variable_is_a_setting(name):
    used = {m for s in strings(SERVICES[name]) for m in SETTING_NAME.findall(s)}
    unknown = sorted(used - set(SETTING_DEFAULTS))
    assert not unknown, f"service {name} uses {unknown}, which are not settings of recsys.settings"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_setting_fallbacks_equal_the_settings_defaults(name):
    for text in strings(SERVICES[name]):
        for var, op, fallback in INTERPOLATION.findall(text):
            if var in SETTING_DEFAULTS and op in ("-", ":-"):
                assert fallback == str(SETTING_DEFAULTS[var]), (
                    f"service {name} falls back to {var}={fallback!r}, "
                    f"but the setting's default is {SETTING_DEFAULTS[var]!r}"
                )


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_recsys_variables_are_settings(dockerfile):
    unknown = sorted(set(SETTING_NAME.findall(dockerfile.read_text())) - set(SETTING_DEFAULTS))
    assert not unknown, f"{dockerfile.name} uses {unknown}, which are not settings"


# --- images --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_is_pinned(name):
    service = SERVICES[name]
    image = service.get("image")
    if service.get("build"):
        if image:
            assert image_pinned(image), f"service {name} tags its built image {image!r}"
        return  # its Dockerfile's bases are checked below
    assert image, f"service {name} has neither an image nor a build"
    assert image_pinned(image), f"service {name} uses {image!r}, not an exact version tag"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_bases_are_pinned(dockerfile):
    assert dockerfile.parent == DOCKER_DIR, f"compose builds {dockerfile}, outside docker/"
    assert dockerfile.exists(), f"compose builds {dockerfile}, which does not exist"
    unpinned = unpinned_bases(dockerfile)
    assert not unpinned, f"{dockerfile.name} builds FROM {unpinned}, not exact version tags"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_copies_only_existing_project_files(dockerfile):
    context = BUILT.get(dockerfile.resolve(), PROJECT_ROOT)
    for keyword, arguments in instructions(dockerfile):
        sources = copy_sources(arguments) if keyword in ("COPY", "ADD") else None
        for source in sources or []:
            top = Path(source).parts[0] if Path(source).parts else source
            # Copying the whole context, .env or .state would bake this machine's secrets in.
            assert top not in (".", ".env", ".state"), f"{dockerfile.name} copies {source!r}"
            assert glob.glob(str(context / source)), (
                f"{dockerfile.name}: {keyword} source {source!r} does not exist in {context}"
            )


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_runs_as_a_non_root_user(dockerfile):
    final_stage = []
    for keyword, arguments in instructions(dockerfile):
        final_stage = [] if keyword == "FROM" else final_stage + [(keyword, arguments)]
    users = [arguments for keyword, arguments in final_stage if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), (
        f"{dockerfile.name} does not end with a non-root USER"
    )


# --- health --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck(name):
    service = SERVICES[name]
    check = service.get("healthcheck")
    if check and not check.get("disable"):
        assert check.get("test") and check["test"] != ["NONE"], f"service {name}: empty check"
        return
    # The one exemption: a one-shot job (restart "no") that others wait for to *complete*,
    # since a finished container has nothing left to be healthy.
    dependents = {
        other: depends_on(spec)[name]
        for other, spec in SERVICES.items()
        if name in depends_on(spec)
    }
    assert str(service.get("restart")) == "no" and dependents, (
        f"service {name} has no healthcheck and is not a one-shot job others wait for"
    )
    waiting_otherwise = {
        o: c for o, c in dependents.items() if c != "service_completed_successfully"
    }
    assert not waiting_otherwise, (
        f"one-shot service {name} has no healthcheck, yet {waiting_otherwise} wait for it "
        "with another condition than service_completed_successfully"
    )


# --- data ----------------------------------------------------------------------------------


def mounts(service: dict) -> list[dict]:
    """Volume mounts in the long syntax: type, source, target, read_only."""
    result = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            result.append(volume)
            continue
        parts = volume.split(":")
        if len(parts) == 1:
            result.append({"type": "volume", "source": None, "target": parts[0]})
            continue
        source, target, mode = parts[0], parts[1], (parts[2] if len(parts) > 2 else "")
        kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
        result.append(
            {"type": kind, "source": source, "target": target, "read_only": "ro" in mode.split(",")}
        )
    return result


def data_paths(service: dict) -> list[str]:
    """Where a service keeps data that must outlive its container."""
    image, env = service.get("image") or "", environment(service)
    paths = []
    if image.startswith(("postgres:", "pgvector/pgvector:")):
        paths.append("/var/lib/postgresql")
    if image.startswith(("redis:", "valkey/valkey:")):
        paths.append("/data")
    paths += (env.get("KAFKA_LOG_DIRS") or "").split(",")
    paths += [env.get("RECSYS_LAKE_URI") or "", env.get("RECSYS_CHECKPOINT_URI") or ""]
    return [p for p in paths if p.startswith("/")]


def inside(path: str, target: str) -> bool:
    return path == target or path.startswith(target.rstrip("/") + "/")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_volumes_are_named_and_declared(name):
    for mount in mounts(SERVICES[name]):
        if mount.get("type") == "tmpfs":
            continue
        if mount.get("type") == "bind":
            assert mount.get("read_only"), (
                f"service {name} bind-mounts {mount.get('source')} writable: data goes in a "
                "named volume, and only read-only configuration may be bind-mounted"
            )
            continue
        assert mount.get("source"), f"service {name} has an anonymous volume at {mount['target']}"
        assert mount["source"] in NAMED_VOLUMES, (
            f"service {name} mounts volume {mount['source']!r}, not declared under `volumes:`"
        )


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_data_lives_in_named_volumes(name):
    named = [m for m in mounts(SERVICES[name]) if m.get("source") in NAMED_VOLUMES]
    for path in data_paths(SERVICES[name]):
        assert any(inside(path, m["target"]) for m in named), (
            f"service {name} keeps data in {path}, which is not in a named volume"
        )


def test_spark_workers_share_the_drivers_lake():
    drivers = [n for n, s in SERVICES.items() if "celery worker" in command_text(s)]
    workers = [n for n, s in SERVICES.items() if "deploy.worker.Worker" in command_text(s)]
    assert drivers and workers, "expected Celery workers and Spark workers"
    lake = environment(SERVICES[drivers[0]])["RECSYS_LAKE_URI"]
    for name in drivers + workers:
        held = [
            (m["source"], m["target"])
            for m in mounts(SERVICES[name])
            if m.get("source") in NAMED_VOLUMES and inside(lake, m["target"])
        ]
        assert held, f"service {name} does not mount the lake ({lake}) from a named volume"


# --- secrets -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_secret_is_written_in_the_file(name):
    for var, value in environment(SERVICES[name]).items():
        # A *_FILE variable names where a secret is kept (a path), it is not the secret.
        if SECRET_NAME.search(var) and not var.endswith("_FILE"):
            assert value is not None and REQUIRED_FROM_ENVIRONMENT.match(value), (
                f"service {name} sets {var} to {value!r}: secrets must come from the "
                "environment as ${NAME} or ${NAME:?message}, with no default"
            )
    for text in strings(SERVICES[name]):
        for password in URL_CREDENTIALS.findall(INTERPOLATION.sub("<from-env>", text)):
            assert password == "<from-env>", f"service {name} writes a password into a URL"


# --- Kafka ---------------------------------------------------------------------------------


def kafka_brokers() -> dict[str, dict[str, str | None]]:
    return {
        name: environment(service)
        for name, service in SERVICES.items()
        if "broker" in (environment(service).get("KAFKA_PROCESS_ROLES") or "")
    }


def test_kafka_has_three_brokers():
    brokers = kafka_brokers()
    assert len(brokers) == 3, f"expected 3 Kafka brokers, found {sorted(brokers)}"
    ids = {env.get("KAFKA_NODE_ID") for env in brokers.values()}
    assert len(ids) == 3, f"Kafka brokers {sorted(brokers)} share node ids: {ids}"
    for name, env in brokers.items():
        voters = (env.get("KAFKA_CONTROLLER_QUORUM_VOTERS") or "").split(",")
        assert len(voters) >= 3 and len(voters) % 2, (
            f"service {name}: the controller quorum {voters} must be an odd number, at least 3"
        )


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_clients_know_every_broker(name):
    servers = environment(SERVICES[name]).get("RECSYS_KAFKA_BOOTSTRAP_SERVERS")
    if servers is None:
        return
    hosts = {server.split(":")[0] for server in servers.split(",")}
    assert hosts == set(kafka_brokers()), (
        f"service {name} bootstraps from {sorted(hosts)}, not from the brokers"
    )


def shell_expanded(service: dict) -> str:
    """The service's command as its shell runs it, with its environment's values."""
    env = {k: with_compose_defaults(v) for k, v in environment(service).items() if v is not None}
    text = command_text(service).replace("$$", "$")  # compose's escape of the shell's $
    pattern = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
    return pattern.sub(lambda m: env.get(m.group(1), m.group(0)), text)


def test_topics_are_created_with_three_replicas_and_two_in_sync():
    creators = {
        name: shell_expanded(service)
        for name, service in SERVICES.items()
        if "kafka-topics" in command_text(service) and "--create" in command_text(service)
    }
    assert len(creators) == 1, f"expected one topic init service, found {sorted(creators)}"
    [(name, command)] = creators.items()
    created = {}
    for create in (part for part in command.split("&&") if "--create" in part):
        words = shlex.split(create)
        created[words[words.index("--topic") + 1]] = words
    expected = {
        SETTING_DEFAULTS[k] for k in ("RECSYS_KAFKA_TOPIC", "RECSYS_KAFKA_IMPRESSIONS_TOPIC")
    }
    assert set(created) == expected, f"service {name} creates {sorted(created)}"
    for topic, words in created.items():
        replication = words[words.index("--replication-factor") + 1]
        assert replication == "3", f"service {name} creates {topic} with replication {replication}"
        assert "min.insync.replicas=2" in words, (
            f"service {name} does not create {topic} with min.insync.replicas=2"
        )
    # Nor may a later step of the same command (an --alter) set it to anything else.
    settings = set(re.findall(r"min\.insync\.replicas=(\S+)", command))
    assert settings == {"2"}, f"service {name} sets min.insync.replicas to {sorted(settings)}"
