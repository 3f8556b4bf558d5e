-- depends: 0004.trending
-- Where pipeline failures land for operators and the admin page (besides the task log).
create schema if not exists ops;

create table ops.alerts (
    id           bigint generated always as identity primary key,
    occurred_at  timestamptz not null default now(),
    dag_id       text not null,
    task_id      text,
    run_id       text,
    try_number   integer,
    severity     text not null default 'error' check (severity in ('error', 'warning')),
    message      text not null,
    log_url      text
);
create index alerts_recent_idx on ops.alerts (occurred_at desc);

comment on table ops.alerts is 'Failed pipeline tasks, written by the DAGs'' failure callback.';
