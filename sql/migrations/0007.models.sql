-- depends: 0006.analyst_role
-- Model versions and their vectors.
--
-- ALS: every training run is a row of model.als_runs; its version number names the table
-- holding its vectors, model.als_factors_<version> (kind 'user' or 'item', id, factors),
-- created by the training job with a partial HNSW index over the items before the model can
-- be served. model.active_model points at the version being served, and the view
-- model.active_factors selects from that version's table. Activation updates the pointer and
-- re-creates the view in one transaction: a reader sees the old model or the new one, whole,
-- never a mix.
create table model.als_runs (
    version          bigint generated always as identity primary key,
    dag_run_id       text,
    window_start     date not null,
    window_end       date not null,
    holdout_start    date not null,
    params           jsonb not null,
    n_users          integer,
    n_items          integer,
    n_interactions   bigint,
    n_holdout_users  integer,
    metrics          jsonb,
    status           text not null default 'running'
                     check (status in ('running', 'passed', 'rejected', 'failed', 'pruned')),
    reason           text,
    started_at       timestamptz not null default now(),
    finished_at      timestamptz,
    duration_s       double precision,
    check (window_start <= holdout_start and holdout_start < window_end)
);
create index als_runs_recent_idx on model.als_runs (started_at desc);

comment on table model.als_runs is
    'One row per ALS training run: window, parameters, data sizes, holdout metrics, gate verdict.';
comment on column model.als_runs.window_end is 'First event day after the window (exclusive).';
comment on column model.als_runs.holdout_start is
    'First event day of the time-based holdout the gate evaluates on (to window_end).';
comment on column model.als_runs.metrics is
    '{"model": {...}, "popularity": {...}, "active": {...}}: Recall@K, NDCG@K, MAP@K, coverage.';
comment on column model.als_runs.status is
    'running; passed (vectors kept, may be served); rejected by the gate; failed; pruned '
    '(passed, vectors since dropped).';

create table model.active_model (
    singleton     boolean primary key default true check (singleton),
    version       bigint not null references model.als_runs (version),
    activated_at  timestamptz not null default now(),
    activated_by  text not null default 'als_training'
);
comment on table model.active_model is 'The ALS version being served (one row, or none yet).';

-- Lyrics: one embedding per song, tagged with the hash of the lyrics it was computed from.
create table model.lyrics_embeddings (
    song_id      text primary key references catalog.songs (id) on delete cascade,
    lyrics_md5   text not null,
    embedding    vector(384) not null,
    embedded_at  timestamptz not null default now()
);
create index lyrics_embeddings_hnsw on model.lyrics_embeddings
    using hnsw (embedding vector_cosine_ops) with (m = 16, ef_construction = 64);

create table model.embedding_runs (
    id                    bigint generated always as identity primary key,
    dag_run_id            text,
    model_name            text not null,
    songs_total           integer,
    songs_without_lyrics  integer,
    songs_unchanged       integer,
    songs_embedded        integer,
    embeddings_removed    integer,
    status                text not null default 'running'
                          check (status in ('running', 'succeeded', 'failed')),
    started_at            timestamptz not null default now(),
    finished_at           timestamptz,
    duration_s            double precision
);
comment on table model.embedding_runs is
    'One row per lyrics_embeddings run: what it embedded, skipped (no lyrics) and left alone.';
