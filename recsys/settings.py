"""Every setting of every process, read from the environment in one place.

Each field maps to exactly one environment variable (its name in upper case, prefixed
``RECSYS_``). Values come, in order of precedence, from the process environment, then from
the project's git-ignored ``.env`` (written by ``make up``), then from the defaults below.
Secrets have no defaults: ``make up`` generates them into ``.env``.

Nothing else in the project reads ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "RECSYS_"


def _setting(default, doc: str, secret: bool = False):
    return field(default=default, metadata={"doc": doc, "secret": secret})


@dataclass(frozen=True)
class Settings:
    # Where things live
    state_dir: str = _setting(
        str(PROJECT_ROOT / ".state"),
        "Local stack state: database files, broker logs, pid files, service logs.",
    )
    cache_dir: str = _setting(
        str(Path.home() / ".cache" / "musicrec"),
        "Downloads kept outside the clone (virtual environments, jars), keyed by content hash.",
    )
    lake_uri: str = _setting(
        str(PROJECT_ROOT / "data" / "lake"),
        "Root of the Parquet lake (a folder, or an s3a:// URI in production).",
    )
    checkpoint_uri: str = _setting(
        str(PROJECT_ROOT / ".state" / "checkpoints"),
        "Root of Spark Structured Streaming checkpoints (beside the lake in production).",
    )

    # PostgreSQL + pgvector
    postgres_host: str = _setting("127.0.0.1", "PostgreSQL host.")
    postgres_port: int = _setting(5432, "PostgreSQL port.")
    postgres_db: str = _setting("recsys", "Warehouse database name.")
    postgres_user: str = _setting("recsys", "Warehouse owner role.")
    postgres_password: str = _setting(None, "Warehouse owner password (secret).", secret=True)
    airflow_db: str = _setting("airflow", "Database holding Airflow's metadata (same server).")
    analyst_user: str = _setting("analyst_login", "Read-only login for SQL analysts.")
    analyst_password: str = _setting(None, "Password of the analyst login (secret).", secret=True)

    # Redis
    redis_url: str = _setting("redis://127.0.0.1:6379/0", "Redis URL (session vectors).")

    # Kafka
    kafka_bootstrap_servers: str = _setting("127.0.0.1:9092", "Kafka broker list, comma separated.")
    kafka_topic: str = _setting("music_log", "Topic of the raw listening log.")
    kafka_impressions_topic: str = _setting(
        "rec_impressions", "Topic of the recommendation answers served (impressions)."
    )
    impressions_enabled: bool = _setting(
        True,
        "Record each recommendation answer as an impression on its topic (off: answers keep"
        " their rec_id, but no online metrics can be computed).",
    )
    kafka_partitions: int = _setting(3, "Partitions of the topic when the stack creates it.")
    kafka_replication_factor: int = _setting(1, "Replication factor of the topic when created.")
    kafka_send_timeout_s: float = _setting(
        4.0, "Longest an API request waits for the broker before answering 503."
    )

    # Spark
    spark_master: str = _setting("local[*]", "Spark master URL (local[*], spark://host:7077).")
    spark_driver_memory: str = _setting("2g", "Spark driver memory for batch jobs.")

    # Airflow
    airflow_host: str = _setting("127.0.0.1", "Airflow api-server host.")
    airflow_port: int = _setting(8080, "Airflow api-server port.")
    airflow_executor: str = _setting(
        "LocalExecutor",
        "Airflow executor: LocalExecutor, or CeleryExecutor (Redis as broker, plus a Celery"
        " worker process that runs the tasks).",
    )
    airflow_celery_broker_url: str = _setting(
        "", "Broker of the CeleryExecutor; empty: database 1 of the stack's Redis."
    )
    airflow_celery_concurrency: int = _setting(2, "Tasks one Celery worker runs at once.")
    airflow_dags_paused_at_creation: bool = _setting(
        True,
        "Whether Airflow pauses a DAG it sees for the first time (`make up` unpauses them"
        " once the demo data is in, so no first run finds an empty lake).",
    )
    airflow_nice: int = _setting(
        10,
        "CPU niceness (0 to 19) of the local stack's Airflow, inherited by the tasks and Spark"
        " jobs it runs, so serving and event capture keep the cores of a shared machine;"
        " 0: the same priority as the rest.",
    )
    airflow_admin_user: str = _setting("admin", "Airflow UI login.")
    airflow_admin_password: str = _setting(None, "Airflow UI password (secret).", secret=True)
    airflow_secret_key: str = _setting(
        None, "Key Airflow's components sign their tokens with (secret).", secret=True
    )
    airflow_fernet_key: str = _setting(
        None, "Key encrypting Airflow connections and variables (secret).", secret=True
    )

    # Web app
    webapp_host: str = _setting("127.0.0.1", "Address gunicorn binds.")
    webapp_port: int = _setting(5000, "Port gunicorn binds.")
    webapp_workers: int = _setting(2, "gunicorn worker processes.")
    webapp_threads: int = _setting(16, "Threads per gunicorn worker.")
    webapp_access_log: str = _setting(
        "", "File for gunicorn's per-request access log ('-' for stdout); empty: none."
    )
    admin_token: str = _setting(
        None, "Token admin endpoints take, with the admin role (secret).", secret=True
    )
    admin_tokens: str = _setting(
        "",
        "More admin tokens, each name:role:token (role admin or operator), comma separated:"
        " add a new one, move its users over, remove the old one (rotation without downtime);"
        " the name is who the audit trail records.",
    )

    # Listener identity (docs/security.md)
    auth_mode: str = _setting(
        "token",
        "'token': every listener endpoint needs a bearer token (a JWT) whose subject is the"
        " listener, or a service token with a scope; 'open': anyone may act as any listener"
        " (no identity at all; marked in /healthz and on the pages).",
    )
    auth_secret: str = _setting(
        None, "Key the tokens this app issues are signed with (HS256; secret).", secret=True
    )
    auth_issuer: str = _setting("musicrec", "Issuer (iss) of the tokens this app issues.")
    auth_audience: str = _setting(
        "musicrec-api", "Audience (aud) every token must name, ours and the identity provider's."
    )
    auth_token_minutes: int = _setting(
        720, "Minutes a listener's token (and the player's sign-in) lasts."
    )
    auth_clock_skew_s: int = _setting(
        30, "Seconds of clock difference allowed on a token's exp, nbf and iat."
    )
    auth_demo_signin: bool = _setting(
        False,
        "Whether the player offers 'sign in as' any listener without a password (the demo"
        " world's listeners have none); `make up` turns it on for the local demo.",
    )
    auth_jwks_url: str = _setting(
        "",
        "JWKS URL of an external identity provider whose tokens (RS256 or ES256) are accepted"
        " besides ours; empty: only ours.",
    )
    auth_jwks_issuer: str = _setting("", "Issuer (iss) of the identity provider's tokens.")
    auth_jwks_algorithms: str = _setting(
        "RS256,ES256", "Algorithms accepted from the identity provider, comma separated."
    )
    auth_jwks_refresh_s: int = _setting(
        300,
        "Seconds the identity provider's keys are kept before they are fetched again; a token"
        " naming an unknown key fetches them sooner, at most once every 10 seconds.",
    )
    auth_subject_claim: str = _setting(
        "sub", "Claim of the identity provider's tokens that holds the listener's id."
    )
    auth_role_claim: str = _setting(
        "role",
        "Claim holding a token's role (admin or operator; a string or a list) for the admin"
        " endpoints.",
    )
    webapp_proxy_hops: int = _setting(
        0,
        "Reverse proxies in front of the web app whose X-Forwarded-For names the client"
        " (rate limits are per client); 0: the client is the connecting address.",
    )
    cors_origins: str = _setting(
        "",
        "Origins (scheme://host[:port], comma separated) whose pages may call the API from"
        " the browser (CORS); empty: the app's own pages only.",
    )
    rate_limit_events_per_s: float = _setting(
        20.0, "Event requests a client may make per second on average; 0: no limit."
    )
    rate_limit_recs_per_s: float = _setting(
        10.0, "Recommendation requests a client may make per second on average; 0: no limit."
    )
    rate_limit_signin_per_s: float = _setting(
        1.0,
        "Sign-in and sign-up requests a client may make per second on average (password"
        " guessing); 0: no limit.",
    )
    rate_limit_burst_s: float = _setting(
        5.0, "Seconds' worth of its rate a client may spend at once (the bucket's size)."
    )

    # Event contract
    event_batch_max: int = _setting(1000, "Most events one POST /api/v1/logs/events may carry.")
    event_max_future_s: int = _setting(
        300, "How far in the future (client clock skew) an event timestamp may be."
    )
    play_min_seconds: int = _setting(30, "Seconds heard for a listen to count as a play.")

    # Online metrics: which recommendation caused an event (docs/analysts.md#online-metrics)
    attribution_rec_id_hours: int = _setting(
        6, "Hours after an answer in which an event naming its rec_id is attributed to it."
    )
    attribution_window_minutes: int = _setting(
        30,
        "Minutes after an answer in which an event naming no list is attributed to the"
        " listener's latest answer that showed the song.",
    )

    # Trending
    trending_window_days: int = _setting(7, "Event days the trending plays count covers.")
    trending_snapshot_size: int = _setting(1000, "Songs ranked in each daily trending snapshot.")

    # Models: ALS training
    als_window_days: int = _setting(90, "Event days of listening the ALS model is trained on.")
    als_window_anchor: str = _setting(
        "today",
        "Where the ALS window ends: 'today' (the run's day) or 'newest_event' (the day after"
        " the newest event in the lake before it, for a history that ended long ago); the"
        " als_training DAG's window_anchor param overrides it for one run.",
    )
    als_holdout_days: int = _setting(
        7, "Last days of the window held out to evaluate a new model before it may be served."
    )
    als_rank: int = _setting(64, "ALS latent factors (the item vectors' dimension).")
    als_reg_param: float = _setting(
        0.5, "ALS regularisation (regParam; Spark scales it by each row's positive ratings)."
    )
    als_alpha: float = _setting(5.0, "ALS implicit confidence scale: c = 1 + alpha * |r|.")
    als_max_iter: int = _setting(10, "ALS iterations.")
    als_checkpoint_uri: str = _setting(
        "",
        "Folder ALS checkpoints its factors in, so its lineage stays short (shared storage on"
        " a cluster); each run uses a folder of its own there and removes it when it ends;"
        " empty: <RECSYS_CHECKPOINT_URI>/als_training.",
    )
    als_checkpoint_interval: int = _setting(
        5, "ALS iterations between checkpoints of its factors (Spark's checkpointInterval)."
    )
    als_eval_k: int = _setting(10, "K of the offline metrics (Recall@K, NDCG@K, MAP@K).")
    als_gate_min_lift: float = _setting(
        0.10, "A new model must beat popularity's NDCG@K by this fraction to pass the gate."
    )
    als_gate_max_drop: float = _setting(
        0.10, "A new model may fall at most this fraction below the active model's NDCG@K."
    )
    model_versions_kept: int = _setting(
        2, "Gate-passed model versions whose vectors are kept (the active one and rollbacks)."
    )
    hnsw_ef_search: int = _setting(
        100, "pgvector hnsw.ef_search for nearest-vector queries (recall against speed)."
    )

    # Models: lyrics embeddings
    embedding_batch_size: int = _setting(64, "Lyrics encoded per sentence-transformers batch.")

    # Nightly mixes (docs/mixes.md)
    mixes_active_days: int = _setting(
        30, "Event days back a listener must have listened in to get nightly mixes."
    )
    mixes_per_listener: int = _setting(
        4, "Mixes built per listener each night: daily mixes (one per taste cluster) + discovery."
    )
    mixes_size: int = _setting(30, "Songs in each nightly mix (25 to 50).")
    mixes_days_kept: int = _setting(
        14, "Days of built mixes kept (for analysts' engagement views); the active day always."
    )

    # Playlists, similar songs and song radio (docs/playlists.md)
    radio_session_weight: float = _setting(
        0.3,
        "Song radio: score = (1 - w) * the seed's next-song score + w * that of the listener's"
        " newest qualifying play.",
    )
    similar_songs_cache_s: float = _setting(
        300.0,
        "Seconds each web worker keeps a song's similar songs (per served model version);"
        " 0: computed on every request.",
    )
    similar_songs_kept: int = _setting(
        2000, "Songs whose similar songs each web worker keeps (about 15 KB each)."
    )

    # Serving: the session-aware recommendation rules (docs/serving.md)
    recs_long_term_weight: float = _setting(
        0.7, "Home page: v_session = w * v_long + (1 - w) * v_short."
    )
    session_ema_weight: float = _setting(
        0.5, "Session EMA: v_short = w * v_short + (1 - w) * v_song on each qualifying play."
    )
    next_song_als_weight: float = _setting(
        0.6, "Next song: score = w * norm(als) + (1 - w) * norm(lyrics similarity)."
    )
    session_ttl_s: int = _setting(
        1800, "Inactivity (seconds) after which a listener's short-term vector expires."
    )
    recent_plays_kept: int = _setting(
        50, "Most recent plays per listener kept in Redis and excluded from recommendations."
    )
    recent_plays_ttl_s: int = _setting(
        86400, "Seconds of inactivity after which a listener's recent plays are forgotten."
    )
    recs_candidate_pool: int = _setting(
        100, "Candidates ranked per request (per source for next songs); pages stop there."
    )
    recs_max_per_artist: int = _setting(2, "Most songs of one artist in a page of recommendations.")
    recs_new_song_slots: int = _setting(
        2,
        "Songs added since the served model was trained (no ALS vector yet) mixed into a"
        " listener's recommendations: on the home page at ranks 3, 6, ... by the artists and"
        " genres heard; in next songs the best-scored by lyrics; 0: none.",
    )
    next_song_new_song_weight: float = _setting(
        0.7,
        "Next song: a new song without an ALS vector scores w * norm(lyrics similarity)"
        " among candidates the model knows.",
    )
    queue_stale_skips: int = _setting(
        2, "Skips within queue_stale_window_s that mark the player's Up Next stale."
    )
    queue_stale_window_s: int = _setting(60, "Window (seconds) of the stale-queue skip rule.")
    experiments_cache_s: float = _setting(
        5.0,
        "Seconds each web worker keeps the running experiments before reading them again (a"
        " start or stop takes effect within this time); 0: read on every request.",
    )
    player_clock_speed: float = _setting(
        1.0, "Simulated playback seconds per real second for songs without audio (tests: 30+)."
    )

    @property
    def postgres_dsn(self) -> str:
        return self.dsn_for(self.postgres_db)

    def dsn_for(self, database: str, user: str | None = None, password: str | None = None) -> str:
        user = user or self.postgres_user
        password = self.postgres_password if password is None else password
        return (
            f"postgresql://{user}:{password}@{self.postgres_host}:{self.postgres_port}/{database}"
        )

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"

    @property
    def airflow_url(self) -> str:
        return f"http://{self.airflow_host}:{self.airflow_port}"

    @property
    def webapp_url(self) -> str:
        return f"http://{self.webapp_host}:{self.webapp_port}"


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a ``KEY=VALUE`` file; blank lines and ``#`` comments are ignored."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def _convert(raw: str, kind, name: str):
    try:
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (bool, "bool"):
            flag = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
            return flag[raw.strip().lower()]
    except (ValueError, KeyError):
        raise SettingsError(f"{name}={raw!r} is not a valid {kind}") from None
    return raw


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable to fix."""


def load_settings(environ: dict[str, str] | None = None, env_file: Path | None = None) -> Settings:
    """Build Settings from ``environ`` (default: the process environment) over ``.env``."""
    environ = dict(os.environ) if environ is None else environ
    env_file = env_file or Path(environ.get("RECSYS_ENV_FILE", PROJECT_ROOT / ".env"))
    merged = {**read_env_file(env_file), **environ}
    values = {}
    for f in dataclasses.fields(Settings):
        name = env_name(f.name)
        if name in merged and merged[name] != "":
            values[f.name] = _convert(merged[name], f.type, name)
    return Settings(**values)


def require(settings: Settings, *names: str) -> None:
    """Fail with a message naming the variable when a secret a process needs is unset."""
    missing = [env_name(n) for n in names if getattr(settings, n) in (None, "")]
    if missing:
        raise SettingsError(
            f"missing setting(s) {', '.join(missing)}: run `make up` to generate .env, "
            "or export them"
        )


def documented_settings() -> list[tuple[str, object, str, bool]]:
    """(environment name, default, doc, secret) of every setting, for .env.example and docs."""
    return [
        (env_name(f.name), f.default, f.metadata["doc"], f.metadata["secret"])
        for f in dataclasses.fields(Settings)
    ]
