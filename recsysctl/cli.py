"""``python -m recsysctl <command>``: the local stack and the operator's everyday actions.

up        set up and start everything, load the demo data, run the pipeline once
down      stop every service (data is kept)
status    each service and whether it is healthy
migrate   apply pending SQL migrations
demo      generate the demo world and load it (catalog + listening history);
          `demo playlists --out FILE` writes its listeners' playlists as an MPD slice
simulate  send live listening traffic for the demo users
simulate-responses
          demo users who respond to their recommendations by their tastes (home, Up Next)
pipeline  run the play_counters DAG once through Airflow and wait for it
models    list model versions, activate one (roll back), retrain, re-embed lyrics
import    bring your own music: `import catalog FILE`, `import lyrics lrclib|csv FILE`,
          `import history FORMAT FILE...`, `import playlists FILE...` (docs/importing.md)
catalog   take a song down, or restore it
experiment  A/B experiments: start, list, show results, stop (docs/operating.md#experiments)
audit     the latest admin actions: who did what, when, and how it ended
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from recsys.airflow_client import AirflowError
from recsys.jars import JarFetchError
from recsys.lake import events_path
from recsys.settings import PROJECT_ROOT, SettingsError, load_settings, require
from recsysctl import (
    audit_commands,
    catalog_commands,
    credentials,
    experiment_commands,
    import_history,
)
from recsysctl.stack.process import ServiceError

DEMO_DIR = PROJECT_ROOT / "data" / "demo"
COUNTER_INTERVAL = timedelta(minutes=15)


class Steps:
    """Numbered progress lines with elapsed time, so a long ``make up`` shows where it is."""

    def __init__(self, total: int):
        self.total = total
        self.n = 0
        self.started = time.monotonic()

    def __call__(self, text: str) -> None:
        self.n += 1
        elapsed = time.monotonic() - self.started
        print(f"[{self.n}/{self.total}] {text} (+{elapsed:.0f}s)", flush=True)


def cmd_up(args) -> int:
    from recsys import db, jars
    from recsysctl.envfile import ensure_env_file
    from recsysctl.stack import airflow, kafka, postgres, redis, status, webapp

    steps = Steps(11 if args.with_demo else 8)
    added = ensure_env_file(demo=args.with_demo)
    steps(f".env ready ({'generated ' + ', '.join(added) if added else 'kept as it was'})")
    settings = load_settings()
    steps("fetching jars (Kafka broker, Spark connectors) into " + settings.cache_dir)
    jars.fetch(settings, kafka.BROKER_POM)
    jars.fetch(settings, jars.SPARK_CONNECTORS)
    steps("starting PostgreSQL + pgvector and applying migrations")
    postgres.start(settings)
    applied = db.migrate(settings)
    print(f"      migrations applied now: {', '.join(applied) or 'none (up to date)'}")
    steps("starting Redis and Kafka")
    redis.start(settings)
    kafka.start(settings)
    steps("starting Airflow (first start migrates its metadata: about a minute)")
    airflow.start(settings)
    steps("starting the web app (gunicorn)")
    webapp.start(settings)
    if args.with_demo:
        steps(f"demo data ({args.size}): catalog into PostgreSQL, history into Kafka")
        load_demo(settings, args.size, args.seed)
        steps("running the pipeline once, through Airflow: play_counters, trending_resync")
        run_pipeline(settings)
        steps("the models, through Airflow: lyrics_embeddings, then als_training")
        train_models(settings)
    steps("the schedules: every DAG unpaused")
    unpause_all(settings)
    steps("status")
    healthy = status.print_status(settings)
    print_where_to_look(settings)
    return 0 if healthy else 1


def print_where_to_look(settings) -> None:
    print(f"""
Where to look
  web app + API     {settings.webapp_url}/healthz   (POST {settings.webapp_url}/api/v1/logs/event)
  Airflow UI        {settings.airflow_url}   login {settings.airflow_admin_user}, password in .env
  PostgreSQL        psql postgresql://{settings.postgres_user}:<.env>@{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_db}
  Parquet lake      {events_path(settings.lake_uri)}
  service logs      {settings.state_dir}/logs
  live traffic      make simulate      stop everything: make down""")


def load_demo(settings, size: str, seed: int) -> None:
    from recsys import db
    from recsysctl import demo, simulator

    folder = DEMO_DIR / size
    marker = Path(settings.state_dir) / f"demo-{size}-{seed}.sent"
    world = demo.generate_world(size, seed=seed)
    demo.write_world(world, folder)
    with db.connect(settings) as conn:
        demo.load_catalog(conn, world)
    print(
        f"      catalog: {len(world.artists)} artists, {len(world.songs)} songs, "
        f"{len(world.users)} users (files in {folder})"
    )
    if marker.exists():
        print(f"      history already sent ({marker.read_text().strip()} events); not resent")
        return
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    sent = simulator.send_history(settings, demo.generate_history(world, end, seed=seed))
    marker.write_text(f"{sent}\n")
    print(f"      history: {sent} events sent to Kafka topic {settings.kafka_topic}")


def current_interval(now: datetime) -> tuple[datetime, datetime]:
    """The 15-minute counter interval holding ``now``."""
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    return start, start + COUNTER_INTERVAL


def run_pipeline(settings) -> None:
    """Count the interval the demo history was sent in, then resync yesterday's trending
    snapshot, so the home page's trending list is there at once."""
    from recsys.airflow_client import AirflowClient

    client = AirflowClient(settings)
    client.wait_for_dag("play_counters")
    start, end = current_interval(datetime.now(UTC))
    run_id = client.run_interval("play_counters", start, end, note="run by make up")
    print(f"      play_counters run {run_id} for [{start:%H:%M}, {end:%H:%M}) UTC")
    _wait_for(client, "play_counters", run_id)
    run_id = _scheduled_or_started(
        client, "trending_resync", lambda: _resync_yesterday(client, datetime.now(UTC))
    )
    print(f"      trending_resync run {run_id}")
    _wait_for(client, "trending_resync", run_id)


def _resync_yesterday(client, now: datetime) -> str:
    """Run trending_resync's latest complete interval ([D 00:30, D+1 00:30) resyncs day D)."""
    end = now.replace(hour=0, minute=30, second=0, microsecond=0)
    if end > now:
        end -= timedelta(days=1)
    start = end - timedelta(days=1)
    return client.run_interval("trending_resync", start, end, note="run by make up")


def _scheduled_or_started(client, dag_id: str, start) -> str:
    """The run doing ``dag_id``'s work now. DAGs are created paused
    (RECSYS_AIRFLOW_DAGS_PAUSED_AT_CREATION), so their first scheduled runs wait for the demo
    data; unpausing one here makes the scheduler run its latest interval at once, and that
    run is followed. A DAG already unpaused (``make up`` run again) gets a run from
    ``start()``, which returns its id."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    if client.wait_for_dag(dag_id):
        run_id = client.scheduled_run_since(dag_id, since)
        if run_id:
            return run_id
    return start()


def _wait_for(client, dag_id: str, run_id: str) -> None:
    state = client.wait(dag_id, run_id, on_poll=_show_changes())
    if state != "success":
        raise SystemExit(f"{dag_id} run {run_id} ended {state}: see the Airflow UI")


def unpause_all(settings) -> None:
    from recsys.airflow_client import DAG_IDS, AirflowClient

    client = AirflowClient(settings)
    unpaused = [dag_id for dag_id in DAG_IDS if client.wait_for_dag(dag_id)]
    print(
        f"      unpaused now: {', '.join(unpaused) or 'none (all were)'}; "
        "pause or unpause them in the Airflow UI"
    )


def train_models(settings) -> None:
    """Embed the lyrics and train the ALS model once, as an admin would, and say how it went
    (a model the gate rejects is reported, not an error: the run itself succeeded)."""
    from recsys import db, model_admin
    from recsys.airflow_client import AirflowClient

    client = AirflowClient(settings)
    for action in ("embed", "retrain"):
        dag_id = model_admin.ON_DEMAND[action]
        run_id = _scheduled_or_started(
            client, dag_id, lambda a=action: _start(settings, client, a)["run_id"]
        )
        print(f"      {dag_id} run {run_id}")
        _wait_for(client, dag_id, run_id)
        with db.connect(settings) as conn:
            outcome = model_admin.follow(client, conn, run_id, dag_id)
        if action == "embed":
            e = outcome["embedding"]
            print(
                f"      embedded {e['songs_embedded']} songs, {e['songs_unchanged']} unchanged, "
                f"{e['songs_without_lyrics']} without lyrics"
            )
        else:
            m = outcome["model"]
            ndcg = m["metrics"]["model"]["ndcg"] if m["metrics"] else float("nan")
            pop = m["metrics"]["popularity"]["ndcg"] if m["metrics"] else float("nan")
            print(
                f"      model version {m['version']} {m['status']}: NDCG@{settings.als_eval_k} "
                f"{ndcg:.4f} against popularity {pop:.4f}"
                + (f" ({m['reason']})" if m["reason"] else "")
            )


def _start(settings, client, action: str, conf: dict | None = None) -> dict:
    """Start the DAG of ``action`` as the operator at the command line (audited)."""
    from recsys import db, model_admin
    from recsys.audit import Actor

    with db.connect(settings, autocommit=True) as conn:
        return model_admin.start(client, conn, action, Actor.cli(), conf=conf)


def cmd_down(args) -> int:
    from recsysctl.stack.services import services

    settings = load_settings()
    for service in reversed(services(settings)):
        stopped = service.module.stop(settings)
        print(f"{service.name:9} {'stopped' if stopped else 'was not running'}")
    return 0


def cmd_status(args) -> int:
    from recsysctl.stack import status

    return 0 if status.print_status(load_settings()) else 1


def cmd_migrate(args) -> int:
    from recsys import db

    applied = db.migrate(load_settings())
    print(f"applied: {', '.join(applied) or 'nothing (up to date)'}")
    return 0


def cmd_demo(args) -> int:
    if getattr(args, "demo_kind", None):  # demo playlists
        return args.run(args)
    load_demo(load_settings(), args.size, args.seed)
    return 0


def cmd_simulate(args) -> int:
    from recsysctl import demo, simulator

    settings = load_settings()
    world = demo.generate_world(args.size, seed=args.seed)
    report = simulator.simulate(
        settings, world, count=args.count, rate=args.rate, users=args.users, via=args.via
    )
    print(
        f"sent {report.sent}: accepted {report.accepted}, rejected {report.rejected}, "
        f"failed {report.failed} in {report.seconds:.1f} s"
    )
    return 0 if report.failed == 0 else 1


def cmd_simulate_responses(args) -> int:
    from recsysctl import responding_traffic

    return responding_traffic.cmd_simulate_responses(args, load_settings())


def cmd_pipeline(args) -> int:
    run_pipeline(load_settings())
    return 0


def cmd_models(args) -> int:
    from recsys import db, model_admin
    from recsys import model_registry as registry
    from recsys.airflow_client import AirflowClient
    from recsys.audit import Actor

    settings = load_settings()
    if args.action == "list":
        with db.connect(settings) as conn:
            versions = registry.list_versions(conn, limit=args.limit)
        print(f"{'version':>7}  {'status':8}  {'window':23}  {'NDCG@K':>7}  {'pop.':>6}  note")
        for v in versions:
            model = (v.metrics or {}).get("model", {})
            pop = (v.metrics or {}).get("popularity", {})
            window = f"{v.window_start} - {v.window_end}"
            print(
                f"{v.version:>7}  {v.status:8}  {window:23}  {model.get('ndcg', 0):7.4f}  "
                f"{pop.get('ndcg', 0):6.4f}  {'ACTIVE ' if v.active else ''}{v.reason or ''}"
            )
        return 0
    if args.action == "activate":
        with db.connect(settings) as conn:
            try:
                model_admin.activate(conn, args.version, Actor.cli())
            except (registry.ModelNotFound, registry.NotActivatable) as err:
                sys.exit(f"error: {err}")
        print(f"model version {args.version} is now active")
        return 0
    client = AirflowClient(settings)
    anchor = getattr(args, "window_anchor", None)
    conf = {"window_anchor": anchor} if anchor else None
    run = _start(settings, client, args.action, conf)
    print(f"{run['dag_id']} run {run['run_id']} started")
    if run["dag_paused"]:
        print(f"  {run['dag_id']} is paused in Airflow: the run waits until you unpause it")
    if not args.wait:
        return 0
    state = client.wait(run["dag_id"], run["run_id"], on_poll=_show_changes())
    with db.connect(settings) as conn:
        followed = model_admin.follow(client, conn, run["run_id"])
    outcome = followed.get("model") or followed.get("embedding") or {}
    shown = ("version", "status", "reason", "songs_embedded")
    details = ", ".join(f"{k}={outcome[k]}" for k in shown if outcome.get(k) is not None)
    print(f"run ended {state}: {details}")
    return 0 if state == "success" else 1


def _show_changes():
    last = [None]

    def show(state):
        if state != last[0]:
            print(f"      ... {state}", flush=True)
            last[0] = state

    return show


def cmd_import(args) -> int:
    return args.run(args)


def cmd_airflow(args) -> int:
    from recsysctl.stack import airflow

    return airflow.run_cli(load_settings(), *args.airflow_args, capture=False).returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recsysctl",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="set up and start everything, then run the pipeline once")
    up.add_argument(
        "--no-demo", dest="with_demo", action="store_false", help="start the services only"
    )
    for p in (up, sub.add_parser("demo", help="generate and load the demo data")):
        p.add_argument("--size", default="default", help="small, default or large")
        p.add_argument("--seed", type=int, default=7)
    sub.add_parser("down", help="stop every service; data is kept")
    sub.add_parser("status", help="each service and whether it is healthy")
    sub.add_parser("migrate", help="apply pending SQL migrations")
    sub.add_parser("pipeline", help="run play_counters once through Airflow")
    models = sub.add_parser("models", help="model versions, rollback, retraining")
    actions = models.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="model versions, newest first").add_argument(
        "--limit", type=int, default=20
    )
    actions.add_parser("activate", help="serve a version (roll back or forward)").add_argument(
        "version", type=int
    )
    for action, text in (("retrain", "run als_training now"), ("embed", "run lyrics_embeddings")):
        actions.add_parser(action, help=text).add_argument(
            "--wait", action="store_true", help="wait for the run and print its outcome"
        )
    actions.choices["retrain"].add_argument(
        "--window-anchor",
        choices=("today", "newest_event"),
        help="where the 90-day window ends: today, or the newest event's day (an imported"
        " history that ended long ago); default RECSYS_ALS_WINDOW_ANCHOR",
    )
    imports = sub.add_parser("import", help="bring your own music (docs/importing.md)")
    kinds = imports.add_subparsers(dest="kind", required=True)
    catalog_commands.add_import_catalog(kinds)  # each kind sets its own `run`
    catalog_commands.add_import_lyrics(kinds)
    import_history.add_import_history(kinds)
    from recsysctl import playlist_commands

    playlist_commands.add_import_playlists(kinds)
    playlist_commands.add_demo_playlists(sub.choices["demo"])
    catalog_commands.add_catalog(sub)
    experiment_commands.add_experiment(sub)
    audit_commands.add_audit(sub)
    credentials.add_token(sub)
    airflow = sub.add_parser("airflow", help="run the airflow CLI against the stack")
    airflow.add_argument("airflow_args", nargs=argparse.REMAINDER)
    simulate = sub.add_parser("simulate", help="send live listening traffic")
    from recsysctl import simulator

    simulator.add_arguments(simulate)
    from recsysctl import responding_traffic

    responding_traffic.add_arguments(
        sub.add_parser(
            "simulate-responses",
            help="demo users who respond to their recommendations by their hidden tastes",
        )
    )
    return parser


COMMANDS = {
    "up": cmd_up,
    "down": cmd_down,
    "status": cmd_status,
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "simulate": cmd_simulate,
    "simulate-responses": cmd_simulate_responses,
    "pipeline": cmd_pipeline,
    "airflow": cmd_airflow,
    "models": cmd_models,
    "import": cmd_import,
    "catalog": catalog_commands.cmd_catalog,
    "experiment": experiment_commands.cmd_experiment,
    "audit": audit_commands.cmd_audit,
    "token": credentials.cmd_token,
}


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.command != "up" and not getattr(args, "demo_kind", None):  # a file only
            require(load_settings(), "postgres_password")
        sys.exit(COMMANDS[args.command](args))
    except (SettingsError, ServiceError, AirflowError, JarFetchError) as err:
        sys.exit(f"error: {err}")
    except KeyboardInterrupt:
        sys.exit(130)
