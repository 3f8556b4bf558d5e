-- depends: 0008.search
-- Playbacks per (interval, day, song) and per (day, song): the events that are not the web
-- player's 30-s progress report, so a song the player played through (a listen at 30 s,
-- then its complete) is one playback, and skip and completion rates divide by playbacks.
-- Rows counted before this migration start from their events; the next resync of their
-- days finds any that differ from the lake and re-counts them.
alter table analytics.song_interval_stats add column playbacks bigint;
update analytics.song_interval_stats set playbacks = events;
alter table analytics.song_interval_stats alter column playbacks set not null;

alter table analytics.song_daily_stats add column playbacks bigint;
update analytics.song_daily_stats set playbacks = events;
alter table analytics.song_daily_stats alter column playbacks set not null;

comment on column analytics.song_interval_stats.playbacks is
    'Playbacks: events less the web player''s 30-s progress reports (a listen with a playback_id).';
comment on column analytics.song_daily_stats.playbacks is
    'Playbacks: events less the web player''s 30-s progress reports (a listen with a playback_id).';
