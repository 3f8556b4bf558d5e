# The web app (Flask under gunicorn, gthread workers) and the one-shot schema migration
# (`python -m recsys.migrate`): both need the shared package, the app and the SQL files.
#
# Build from the repository root:  docker build -f docker/webapp.Dockerfile .
# Only recsys/, webapp/ and sql/ are copied, so nothing of the clone's .env or .state ends up
# in the image: every setting, secrets included, comes from RECSYS_* variables at run time.
FROM python:3.11.17-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN groupadd --system --gid 10001 musicrec \
 && useradd --system --uid 10001 --gid musicrec --create-home --home-dir /home/musicrec musicrec

WORKDIR /opt/musicrec

# Dependencies before code, so a code change reuses this (large) layer.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# Owned by root: the app's user can read the code but never rewrite it.
COPY recsys/ recsys/
COPY webapp/ webapp/
COPY sql/ sql/

# The settings' own defaults (recsys/settings.py), except the address: inside a container
# gunicorn must listen beyond the loopback. Override any of them with the same variables.
ENV PYTHONPATH=/opt/musicrec \
    RECSYS_WEBAPP_HOST=0.0.0.0 \
    RECSYS_WEBAPP_PORT=5000 \
    RECSYS_WEBAPP_WORKERS=2 \
    RECSYS_WEBAPP_THREADS=16 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-webapp

USER musicrec
EXPOSE 5000

# The same gunicorn command line as the local stack (recsysctl/stack/webapp.py); exec keeps
# gunicorn as PID 1 so it receives the container's SIGTERM and shuts down gracefully. The
# workers' Prometheus samples (webapp/metrics.py) start from an empty folder on each start.
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec gunicorn webapp.wsgi:app --bind \"$RECSYS_WEBAPP_HOST:$RECSYS_WEBAPP_PORT\" --workers \"$RECSYS_WEBAPP_WORKERS\" --threads \"$RECSYS_WEBAPP_THREADS\" --worker-class gthread --timeout 60 --graceful-timeout 20 --config python:webapp.gunicorn_conf ${RECSYS_WEBAPP_ACCESS_LOG:+--access-logfile \"$RECSYS_WEBAPP_ACCESS_LOG\"}"]
