# Airflow 3.3.2 with the warehouse's code and requirements: one image for the api-server,
# scheduler, dag-processor, triggerer and Celery workers (a different command each, see
# compose.yaml), and for the Spark workers. Spark runs the jobs' Python on its workers
# (lyrics embeddings, the Kafka landing), and PySpark requires the executors' Python to be the
# driver's: same version, same packages, same project code at the same path.
#
# Build from the repository root:  docker build -f docker/airflow.Dockerfile .
# Nothing secret is copied; configuration comes from RECSYS_* and AIRFLOW__* at run time.

# Spark's Kafka source and the PostgreSQL JDBC driver, resolved from the project's own pom
# while building, so that no task fetches jars at run time.
FROM maven:3.9.11-eclipse-temurin-17 AS connector-jars
COPY recsys/maven/spark-connectors.pom.xml /build/pom.xml
RUN mvn -q -B -f /build/pom.xml dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory=/build/jars

FROM apache/airflow:3.3.2-python3.11

# spark-submit (from the pyspark wheel) needs a Java runtime: Debian's default one, which
# Spark 4.0 supports. /var/lib/musicrec is where compose mounts the lake volume; creating it
# here owned by the airflow user gives a fresh named volume that owner.
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends default-jre-headless \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /opt/musicrec /var/lib/musicrec \
 && chown airflow:0 /opt/musicrec /var/lib/musicrec
USER airflow

# The project root on the path of every process, Spark's Python workers included (DAG files
# import dags.dag_defaults; jobs import recsys and spark_jobs). The jar cache is baked in.
ENV PYTHONPATH=/opt/musicrec \
    RECSYS_CACHE_DIR=/opt/musicrec/cache

# requirements.txt pins apache-airflow to this image's version, so installing it never moves
# Airflow itself; the image's own providers (Celery, Redis, PostgreSQL) stay installed.
COPY requirements.txt /opt/musicrec/requirements.txt
RUN pip install --no-cache-dir -r /opt/musicrec/requirements.txt

COPY recsys/ /opt/musicrec/recsys/

# Put the jars where the DAGs look for them (recsys.jars.jar_dir, keyed by the pom's
# hash) and mark the folder complete, exactly as a local fetch would.
COPY --from=connector-jars --chown=airflow:0 /build/jars /tmp/spark-connectors
RUN target="$(python -c 'from recsys.settings import load_settings; from recsys import jars; print(jars.jar_dir(load_settings(), jars.SPARK_CONNECTORS))')" \
 && mkdir -p "$(dirname "$target")" \
 && mv /tmp/spark-connectors "$target" \
 && touch "$target/.complete"

COPY sql/ /opt/musicrec/sql/
COPY spark_jobs/ /opt/musicrec/spark_jobs/
COPY dags/ /opt/musicrec/dags/
