-- depends: 0018.experiments
-- Who did which admin action, when, and how it ended (written by recsys.audit through the
-- admin API and the CLI; read by GET /api/v1/admin/audit, the admin page and
-- `recsysctl audit`). Append-only: the code has no update or delete of it. A database change
-- (activate, takedown, restore, experiment start and stop) writes its row in its own
-- transaction; an action that failed writes a row with the error's kind after it rolled back.
create table ops.audit_log (
    id       bigint generated always as identity primary key,
    at       timestamptz not null default now(),
    actor    text not null,
    via      text not null check (via in ('api', 'cli')),
    action   text not null,
    target   text not null,
    details  jsonb not null default '{}'::jsonb check (jsonb_typeof(details) = 'object'),
    outcome  text not null
);

comment on table ops.audit_log is
    'Every admin action (retrain, embed, activate, takedown, restore, experiment start and stop)'
    ' with who did it, through what, when and how it ended. Append-only; newest first by id.';
comment on column ops.audit_log.actor is
    'Who: api:<client address> for the admin token''s bearer, cli:<OS user> for recsysctl.';
comment on column ops.audit_log.via is 'api (the admin API and page) or cli (recsysctl).';
comment on column ops.audit_log.action is
    'What: model.retrain, model.embed, model.activate, song.takedown, song.restore,'
    ' experiment.start, experiment.stop.';
comment on column ops.audit_log.target is
    'What it was done to: the Airflow run id, the model version, the song id, the experiment.';
comment on column ops.audit_log.details is
    'The action''s particulars: the DAG and its conf, whether anything changed, the arms;'
    ' for a failure, its message (error).';
comment on column ops.audit_log.outcome is
    'ok, or the kind of error that stopped the action (model_not_found, experiment_conflict,'
    ' airflow_error, ...); a failed action changed nothing.';
