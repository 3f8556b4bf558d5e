-- analytics.mixes_built: each built mix day of the nightly mixes: what it was built from,
-- how much it holds, whether listeners are served it (docs/mixes.md).
-- Reads mixes.runs, mixes.active_day, mixes.listener_mixes.
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.mixes_built cascade;

create view analytics.mixes_built as
with per_kind as (
    select
        m.mix_day,
        count(*) filter (where m.kind = 'daily') as daily_mixes,
        count(*) filter (where m.kind = 'discovery') as discovery_mixes
    from mixes.listener_mixes as m
    group by m.mix_day
)
select
    r.mix_day,
    r.model_version,
    r.listeners,
    r.mixes,
    coalesce(k.daily_mixes, 0) as daily_mixes,
    coalesce(k.discovery_mixes, 0) as discovery_mixes,
    r.songs,
    round(r.mixes::numeric / nullif(r.listeners, 0), 2) as mixes_per_listener,
    a.mix_day is not null as served,
    r.built_at
from mixes.runs as r
left join per_kind as k on k.mix_day = r.mix_day
left join mixes.active_day as a on a.mix_day = r.mix_day;

comment on view analytics.mixes_built is
    'Each built day of nightly mixes: model version, listeners, mixes by kind, the served one.';
comment on column analytics.mixes_built.mix_day is 'The day the mixes were built from.';
comment on column analytics.mixes_built.model_version is
    'The ALS model version whose vectors built them (model.als_runs.version).';
comment on column analytics.mixes_built.listeners is 'Listeners with at least one mix.';
comment on column analytics.mixes_built.mixes is 'Mixes built.';
comment on column analytics.mixes_built.daily_mixes is 'Daily mixes (one per taste cluster).';
comment on column analytics.mixes_built.discovery_mixes is 'Discovery mixes (songs never heard).';
comment on column analytics.mixes_built.songs is 'Songs in all mixes (a song in two mixes twice).';
comment on column analytics.mixes_built.mixes_per_listener is 'mixes / listeners.';
comment on column analytics.mixes_built.served is 'Whether listeners are served this day now.';
comment on column analytics.mixes_built.built_at is 'When the day was (last) built.';

grant select on analytics.mixes_built to analyst;
