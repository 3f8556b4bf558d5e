-- analytics.mix_engagement_daily: what listeners did with each day's nightly mixes, per mix
-- day and kind of mix (docs/mixes.md#engagement).
-- Reads analytics.mix_engagement (written by the daily_mixes DAG).
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.mix_engagement_daily cascade;

create view analytics.mix_engagement_daily as
select
    e.mix_day,
    e.mix_day + 1 as served_day,
    e.kind,
    count(distinct e.user_id) as listeners,
    count(*) as mixes,
    count(*) filter (where e.songs_played > 0) as mixes_played,
    sum(e.songs) as songs,
    sum(e.songs_played) as songs_played,
    sum(e.plays) as plays,
    sum(e.completes) as completes,
    sum(e.skips) as skips,
    sum(e.plays_from_mix) as plays_from_mix,
    sum(e.skips_from_mix) as skips_from_mix,
    sum(e.seconds_listened) as seconds_listened,
    round(count(*) filter (where e.songs_played > 0)::numeric / count(*), 4) as mix_play_rate,
    round(sum(e.songs_played)::numeric / nullif(sum(e.songs), 0), 4) as song_play_rate,
    round(sum(e.skips)::numeric / nullif(sum(e.plays) + sum(e.skips), 0), 4) as skip_rate
from analytics.mix_engagement as e
group by e.mix_day, e.kind;

comment on view analytics.mix_engagement_daily is
    'Plays and skips of nightly mix songs on the day each mix was served, per mix day and kind.';
comment on column analytics.mix_engagement_daily.mix_day is
    'The day the mixes were built from (its events are the last they know).';
comment on column analytics.mix_engagement_daily.served_day is
    'The day they were served and their engagement counted (mix_day + 1).';
comment on column analytics.mix_engagement_daily.kind is
    '''daily'' (a taste cluster''s mix) or ''discovery'' (songs never heard).';
comment on column analytics.mix_engagement_daily.listeners is 'Listeners with such a mix.';
comment on column analytics.mix_engagement_daily.mixes is 'Mixes built.';
comment on column analytics.mix_engagement_daily.mixes_played is
    'Mixes of which the listener played at least one song on the served day.';
comment on column analytics.mix_engagement_daily.songs is 'Songs in those mixes.';
comment on column analytics.mix_engagement_daily.songs_played is
    'Mix songs their listener played on the served day (from anywhere: see docs/mixes.md).';
comment on column analytics.mix_engagement_daily.plays is
    'Plays (listens of 30 s or more, and completes; one per playback) of mix songs by their listener.';
comment on column analytics.mix_engagement_daily.completes is 'Mix songs heard to the end.';
comment on column analytics.mix_engagement_daily.skips is 'Skips of mix songs by their listener.';
comment on column analytics.mix_engagement_daily.plays_from_mix is
    'Plays whose event said the song was played from a mix (surface ''mix'').';
comment on column analytics.mix_engagement_daily.skips_from_mix is
    'Skips whose event said surface ''mix''.';
comment on column analytics.mix_engagement_daily.seconds_listened is
    'Seconds heard of mix songs (playbacks'' ends; the player''s 30-s reports left out).';
comment on column analytics.mix_engagement_daily.mix_play_rate is 'mixes_played / mixes (0 to 1).';
comment on column analytics.mix_engagement_daily.song_play_rate is 'songs_played / songs (0 to 1).';
comment on column analytics.mix_engagement_daily.skip_rate is
    'skips / (plays + skips) (0 to 1).';

grant select on analytics.mix_engagement_daily to analyst;
