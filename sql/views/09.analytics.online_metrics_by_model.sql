-- analytics.online_metrics_by_model: the online metrics of each model version and surface
-- over every day it served (the admin page charts it beside the offline NDCG).
-- Reads analytics.online_metrics (written by the online_metrics DAG).
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.online_metrics_by_model cascade;

create view analytics.online_metrics_by_model as
select
    m.model_version,
    m.surface,
    min(m.day) as first_day,
    max(m.day) as last_day,
    sum(m.impressions) as impressions,
    sum(m.items_shown) as items_shown,
    sum(m.plays) as plays,
    sum(m.completes) as completes,
    sum(m.skips) as skips,
    sum(m.likes) as likes,
    sum(m.dislikes) as dislikes,
    round(sum(m.plays)::numeric / nullif(sum(m.items_shown), 0), 4) as play_rate,
    round(sum(m.completes)::numeric / nullif(sum(m.completes + m.skips), 0), 4)
        as play_through_rate,
    round(sum(m.skips)::numeric / nullif(sum(m.completes + m.skips), 0), 4) as skip_rate,
    round(sum(m.likes)::numeric / nullif(sum(m.items_shown), 0), 4) as like_rate,
    round(sum(m.dislikes)::numeric / nullif(sum(m.items_shown), 0), 4) as dislike_rate,
    round(sum(m.seconds_listened)::numeric / nullif(sum(m.impressions), 0), 1)
        as seconds_per_impression
from analytics.online_metrics as m
group by m.model_version, m.surface;

comment on view analytics.online_metrics_by_model is
    'The online metrics of each model version and surface over every day it served, all'
    ' experiment arms together.';
comment on column analytics.online_metrics_by_model.model_version is
    'The ALS model version; null: answers served without a model (trending).';
comment on column analytics.online_metrics_by_model.surface is 'home or up_next.';
comment on column analytics.online_metrics_by_model.first_day is 'Its first day with answers.';
comment on column analytics.online_metrics_by_model.last_day is 'Its last day with answers.';
comment on column analytics.online_metrics_by_model.impressions is 'Answers served.';
comment on column analytics.online_metrics_by_model.items_shown is 'Songs shown.';
comment on column analytics.online_metrics_by_model.plays is 'Attributed plays.';
comment on column analytics.online_metrics_by_model.completes is
    'Attributed playbacks heard to the end.';
comment on column analytics.online_metrics_by_model.skips is 'Attributed playbacks skipped.';
comment on column analytics.online_metrics_by_model.likes is 'Attributed likes.';
comment on column analytics.online_metrics_by_model.dislikes is 'Attributed dislikes.';
comment on column analytics.online_metrics_by_model.play_rate is 'plays / items_shown.';
comment on column analytics.online_metrics_by_model.play_through_rate is
    'completes / (completes + skips).';
comment on column analytics.online_metrics_by_model.skip_rate is 'skips / (completes + skips).';
comment on column analytics.online_metrics_by_model.like_rate is 'likes / items_shown.';
comment on column analytics.online_metrics_by_model.dislike_rate is 'dislikes / items_shown.';
comment on column analytics.online_metrics_by_model.seconds_per_impression is
    'Seconds heard in attributed playbacks per answer.';

grant select on analytics.online_metrics_by_model to analyst;
