-- analytics.online_metrics_daily: the online metrics of each day, surface, model version and
-- experiment arm, with their rates.
-- Reads analytics.online_metrics (written by the online_metrics DAG), catalog.songs.
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.online_metrics_daily cascade;

create view analytics.online_metrics_daily as
select
    m.day,
    m.surface,
    m.model_version,
    m.experiment,
    m.experiment_arm,
    m.impressions,
    m.items_shown,
    m.songs_shown,
    m.plays,
    m.completes,
    m.skips,
    m.likes,
    m.dislikes,
    m.seconds_listened,
    round(m.plays::numeric / nullif(m.items_shown, 0), 4) as play_rate,
    round(m.completes::numeric / nullif(m.completes + m.skips, 0), 4) as play_through_rate,
    round(m.skips::numeric / nullif(m.completes + m.skips, 0), 4) as skip_rate,
    round(m.likes::numeric / nullif(m.items_shown, 0), 4) as like_rate,
    round(m.dislikes::numeric / nullif(m.items_shown, 0), 4) as dislike_rate,
    round(m.seconds_listened::numeric / nullif(m.impressions, 0), 1) as seconds_per_impression,
    round(
        m.songs_shown::numeric
        / nullif((select count(*) from catalog.songs as s where s.taken_down_at is null), 0),
        4
    ) as catalog_coverage
from analytics.online_metrics as m;

comment on view analytics.online_metrics_daily is
    'What listeners did with the recommendations served each day, per surface, model version'
    ' and experiment arm: attributed plays, completes, skips, likes, dislikes and their rates.';
comment on column analytics.online_metrics_daily.day is 'The UTC day the answers were served.';
comment on column analytics.online_metrics_daily.surface is
    'Where they were shown: home (the home page) or up_next (next songs).';
comment on column analytics.online_metrics_daily.model_version is
    'The ALS model version that served them; null: served without a model (trending).';
comment on column analytics.online_metrics_daily.experiment is
    'The experiment the answers were served in; null outside any experiment.';
comment on column analytics.online_metrics_daily.experiment_arm is
    'The listeners'' arm of that experiment; null outside any experiment.';
comment on column analytics.online_metrics_daily.impressions is
    'Answers served (one page of recommendations each).';
comment on column analytics.online_metrics_daily.items_shown is 'Songs shown, over all answers.';
comment on column analytics.online_metrics_daily.songs_shown is 'Distinct songs shown.';
comment on column analytics.online_metrics_daily.plays is
    'Plays attributed to the answers (a listen of 30 s or a complete, once per playback).';
comment on column analytics.online_metrics_daily.completes is
    'Attributed playbacks heard to the end.';
comment on column analytics.online_metrics_daily.skips is 'Attributed playbacks skipped.';
comment on column analytics.online_metrics_daily.likes is 'Attributed likes.';
comment on column analytics.online_metrics_daily.dislikes is 'Attributed dislikes.';
comment on column analytics.online_metrics_daily.seconds_listened is
    'Seconds heard in the attributed playbacks.';
comment on column analytics.online_metrics_daily.play_rate is 'plays / items_shown (0 to 1).';
comment on column analytics.online_metrics_daily.play_through_rate is
    'completes / (completes + skips): of the attributed playbacks that ended, the share heard'
    ' to the end (0 to 1).';
comment on column analytics.online_metrics_daily.skip_rate is
    'skips / (completes + skips): of the attributed playbacks that ended, the share skipped.';
comment on column analytics.online_metrics_daily.like_rate is 'likes / items_shown.';
comment on column analytics.online_metrics_daily.dislike_rate is 'dislikes / items_shown.';
comment on column analytics.online_metrics_daily.seconds_per_impression is
    'seconds_listened / impressions.';
comment on column analytics.online_metrics_daily.catalog_coverage is
    'songs_shown / songs in the catalog now (not taken down): how much of it was shown.';

grant select on analytics.online_metrics_daily to analyst;
