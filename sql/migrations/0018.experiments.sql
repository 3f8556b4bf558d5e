-- depends: 0017.online_metrics
-- A/B experiments on the recommendation surfaces (written by recsys.experiment_store through
-- the admin API and the CLI; read by serving every few seconds). The listener's arm is not
-- stored: it is a stable hash of the experiment's name and the listener (recsys.experiments),
-- so an arm's answers are found in the impressions and analytics.online_metrics by
-- experiment and experiment_arm.
create table ops.experiments (
    name        text primary key,
    surface     text not null check (surface in ('home', 'up_next')),
    -- [{"name", "share", "model_version", "blend", "random"}, ...]; the first is the control
    arms        jsonb not null
                check (jsonb_typeof(arms) = 'array' and jsonb_array_length(arms) >= 2),
    status      text not null default 'running' check (status in ('running', 'stopped')),
    started_at  timestamptz not null default now(),
    started_by  text not null,
    stopped_at  timestamptz,
    stopped_by  text,
    notes       text,
    check ((status = 'stopped') = (stopped_at is not null))
);

-- One running experiment per surface: each listener's answer on a surface is in one arm.
create unique index experiments_one_running_per_surface
    on ops.experiments (surface) where status = 'running';
create index experiments_recent_idx on ops.experiments (started_at desc);

comment on table ops.experiments is
    'A/B experiments on a recommendation surface: arms (the first is the control), who started'
    ' and stopped them, when.';
comment on column ops.experiments.arms is
    'The arms in order, each {name, share, model_version, blend, random}: model_version serves'
    ' that model instead of the active one, blend overrides the surface''s weight (home: long-term;'
    ' up_next: ALS), random serves random servable songs. The control (first) arm is plain.';
