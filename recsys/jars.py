"""Java dependencies fetched from the Maven registry into a cache outside the clone.

Each pom defines one folder of jars; the folder's name carries a hash of the pom, so editing a
pom fetches a fresh set and an unchanged one is reused by every clone. The Spark connectors'
pom (Kafka source, PostgreSQL JDBC) lives here because every Spark job needs it; the local
stack keeps its own poms (the Kafka broker) and fetches them through the same functions.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from recsys.settings import Settings

SPARK_CONNECTORS = Path(__file__).parent / "maven" / "spark-connectors.pom.xml"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


class JarFetchError(RuntimeError):
    """The jars of a pom could not be fetched; the message says why."""


def _name(pom: Path) -> str:
    return pom.name.removesuffix(".pom.xml")


def jar_dir(settings: Settings, pom: Path) -> Path:
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    return Path(settings.cache_dir) / "jars" / f"{_name(pom)}-{digest}"


def fetch(settings: Settings, pom: Path) -> Path:
    """Copy the pom's runtime dependencies into its cache folder unless already there."""
    target = jar_dir(settings, pom)
    if (target / ".complete").exists():
        return target
    if shutil.which("mvn") is None:
        raise JarFetchError("Maven (mvn) is needed to fetch jars: install it (apt install maven)")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(pom),
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise JarFetchError(f"fetching {_name(pom)} jars failed:\n{tail}")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    (target / ".complete").touch()
    return target


def spark_jars(settings: Settings) -> list[str]:
    """Absolute paths of the connector jars for ``spark.jars``."""
    folder = fetch(settings, SPARK_CONNECTORS)
    return sorted(str(p) for p in folder.glob("*.jar"))
