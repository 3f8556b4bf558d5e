"""Java dependencies fetched from the Maven registry into a cache outside the clone.

Each pom under ``maven/`` defines one folder of jars; the folder's name carries a hash of the
pom, so editing a pom fetches a fresh set and an unchanged one is reused by every clone.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from recsys.settings import Settings
from recsys.stack.process import ServiceError

POM_DIR = Path(__file__).parent / "maven"
KAFKA_BROKER = "kafka-broker"
SPARK_CONNECTORS = "spark-connectors"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


def _pom(name: str) -> Path:
    return POM_DIR / f"{name}.pom.xml"


def jar_dir(settings: Settings, name: str) -> Path:
    digest = hashlib.sha256(_pom(name).read_bytes()).hexdigest()[:12]
    return Path(settings.cache_dir) / "jars" / f"{name}-{digest}"


def fetch(settings: Settings, name: str) -> Path:
    """Copy the pom's runtime dependencies into its cache folder unless already there."""
    target = jar_dir(settings, name)
    if (target / ".complete").exists():
        return target
    if shutil.which("mvn") is None:
        raise ServiceError("Maven (mvn) is needed to fetch jars: install it (apt install maven)")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(_pom(name)),
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise ServiceError(f"fetching {name} jars failed:\n{tail}")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    (target / ".complete").touch()
    return target


def spark_jars(settings: Settings) -> list[str]:
    """Absolute paths of the connector jars for ``spark.jars``."""
    folder = fetch(settings, SPARK_CONNECTORS)
    return sorted(str(p) for p in folder.glob("*.jar"))
