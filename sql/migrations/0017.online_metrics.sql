-- depends: 0016.song_feedback
-- Online metrics: what listeners did with the recommendations they were shown, per day of
-- the impression, surface, model version and experiment arm (written by the online_metrics
-- DAG, one day at a time, by delete and insert in one transaction, so a re-run or a backfill
-- of a day gives the same rows). The attribution rule is in docs/analysts.md.
create table analytics.online_metrics (
    day date not null,                -- the UTC day the answers were served
    surface text not null,            -- home, up_next
    model_version bigint,             -- null: served without a model (trending fallback)
    experiment text,                  -- null: outside any experiment
    experiment_arm text,
    impressions bigint not null,      -- answers served (pages)
    items_shown bigint not null,      -- songs shown, summed over the answers
    songs_shown integer not null,     -- distinct songs shown (catalog coverage)
    attributed_events bigint not null,
    plays bigint not null,            -- attributed plays (one per playback, the play rule)
    completes bigint not null,        -- attributed playbacks that ended complete
    skips bigint not null,            -- attributed playbacks that ended skipped
    likes bigint not null,
    dislikes bigint not null,
    seconds_listened bigint not null, -- seconds heard in the attributed playbacks
    computed_at timestamptz not null,
    unique nulls not distinct (day, surface, model_version, experiment, experiment_arm)
);

-- The analysts' view: the rates, per row. Rates are null where nothing was counted.
create view analytics.online_metrics_daily as
select
    m.day, m.surface, m.model_version, m.experiment, m.experiment_arm,
    m.impressions, m.items_shown, m.songs_shown, m.plays, m.completes, m.skips, m.likes,
    m.dislikes, m.seconds_listened,
    m.plays::float8 / nullif(m.items_shown, 0) as play_rate,
    m.completes::float8 / nullif(m.completes + m.skips, 0) as play_through_rate,
    m.skips::float8 / nullif(m.completes + m.skips, 0) as skip_rate,
    m.likes::float8 / nullif(m.items_shown, 0) as like_rate,
    m.dislikes::float8 / nullif(m.items_shown, 0) as dislike_rate,
    m.seconds_listened::float8 / nullif(m.impressions, 0) as seconds_per_impression,
    m.songs_shown::float8 / nullif(
        (select count(*) from catalog.songs as s where s.taken_down_at is null), 0
    ) as catalog_coverage
from analytics.online_metrics as m;

-- Per model version and surface over all days (the admin page's chart reads it).
create view analytics.online_metrics_by_model as
select
    m.model_version, m.surface,
    min(m.day) as first_day, max(m.day) as last_day,
    sum(m.impressions) as impressions, sum(m.items_shown) as items_shown,
    sum(m.plays) as plays, sum(m.completes) as completes, sum(m.skips) as skips,
    sum(m.likes) as likes, sum(m.dislikes) as dislikes,
    sum(m.plays)::float8 / nullif(sum(m.items_shown), 0) as play_rate,
    sum(m.completes)::float8 / nullif(sum(m.completes + m.skips), 0) as play_through_rate,
    sum(m.skips)::float8 / nullif(sum(m.completes + m.skips), 0) as skip_rate,
    sum(m.likes)::float8 / nullif(sum(m.items_shown), 0) as like_rate,
    sum(m.dislikes)::float8 / nullif(sum(m.items_shown), 0) as dislike_rate,
    sum(m.seconds_listened)::float8 / nullif(sum(m.impressions), 0) as seconds_per_impression
from analytics.online_metrics as m
group by m.model_version, m.surface;

