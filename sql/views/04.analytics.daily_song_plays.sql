-- analytics.daily_song_plays: plays and listeners per song per day, current to the last 15 minutes.
-- Reads analytics.song_daily_stats (written by play_counters), catalog.songs, catalog.artists.
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.daily_song_plays cascade;

create view analytics.daily_song_plays as
select
    d.event_date,
    d.song_id,
    s.title,
    a.name as artist,
    s.genre,
    d.plays,
    d.listeners,
    d.completes,
    d.skips,
    d.seconds_heard
from analytics.song_daily_stats as d
join catalog.songs as s on s.id = d.song_id
join catalog.artists as a on a.id = s.artist_id;

comment on view analytics.daily_song_plays is
    'Plays and listeners per song per day (the listener''s day, UTC), kept current every 15 minutes.';
comment on column analytics.daily_song_plays.event_date is 'Day the listening happened (UTC).';
comment on column analytics.daily_song_plays.song_id is 'Song identifier (catalog.songs.id).';
comment on column analytics.daily_song_plays.title is 'Song title.';
comment on column analytics.daily_song_plays.artist is 'Artist name.';
comment on column analytics.daily_song_plays.genre is 'Song genre.';
comment on column analytics.daily_song_plays.plays is 'Plays: listens of 30 s or more, plus completes; one per playback.';
comment on column analytics.daily_song_plays.listeners is 'Distinct listeners with at least one play that day.';
comment on column analytics.daily_song_plays.completes is 'Playbacks heard to the end.';
comment on column analytics.daily_song_plays.skips is 'Playbacks skipped before 30 s.';
comment on column analytics.daily_song_plays.seconds_heard is 'Total seconds listened, each playback''s seconds once.';

grant select on analytics.daily_song_plays to analyst;
