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

comment on table analytics.online_metrics is
    'What listeners did with the recommendations served each day, per surface, model version'
    ' and experiment arm (written by the online_metrics DAG; rates in the views'
    ' analytics.online_metrics_daily and analytics.online_metrics_by_model).';
