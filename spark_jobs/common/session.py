"""The SparkSession every job uses, with the project's defaults.

Under spark-submit the master, jars and memory come from the command line and win; run
directly (tests, the CLI), the defaults below and the settings apply.
"""

from __future__ import annotations

import sys

from pyspark import SparkConf
from pyspark.sql import SparkSession

from recsys.settings import Settings


def spark_session(app_name: str, settings: Settings, jars: list[str] = (), **conf) -> SparkSession:
    spark_conf = SparkConf()
    defaults = {
        "spark.master": settings.spark_master,
        "spark.app.name": app_name,
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "8",
        "spark.ui.enabled": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Python workers run this interpreter (the project's venv), whatever is on PATH.
        "spark.pyspark.python": sys.executable,
        **({"spark.jars": ",".join(jars)} if jars else {}),
        **conf,
    }
    for key, value in defaults.items():
        if not spark_conf.contains(key):
            spark_conf.set(key, value)
    return SparkSession.builder.config(conf=spark_conf).getOrCreate()
