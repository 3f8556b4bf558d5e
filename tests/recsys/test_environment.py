"""The installed environment is the one requirements.txt pins (pyspark-client shares the
pyspark/ package and has silently replaced its Python files with another version before)."""

import re

import pyspark

from recsys.settings import PROJECT_ROOT


def pinned(package: str) -> str:
    text = (PROJECT_ROOT / "requirements.txt").read_text()
    return re.search(rf"^{re.escape(package)}==(\S+)$", text, re.M).group(1)


def test_pyspark_python_files_match_the_pinned_version():
    assert pinned("pyspark") == pinned("pyspark-client")
    assert pyspark.__version__ == pinned("pyspark")


def test_spark_connector_pom_matches_pyspark():
    pom = (PROJECT_ROOT / "recsys/maven/spark-connectors.pom.xml").read_text()
    kafka_connector = re.search(
        r"<artifactId>spark-sql-kafka-0-10_2.13</artifactId>\s*<version>([^<]+)</version>", pom
    )
    assert kafka_connector.group(1) == pyspark.__version__
