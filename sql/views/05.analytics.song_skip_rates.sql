-- analytics.song_skip_rates: skip and completion rates per song, last 28 days.
-- Reads analytics.song_daily_stats, catalog.songs, catalog.artists.
-- analytics.genre_skip_rates reads this view: the drop below drops it too (cascade), and its
-- file, numbered after this one, creates it again.
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.song_skip_rates cascade;

create view analytics.song_skip_rates as
with recent as (
    select d.*
    from analytics.song_daily_stats as d
    where d.event_date > (select max(event_date) from analytics.song_daily_stats) - 28
)
select
    r.song_id,
    s.title,
    a.name as artist,
    s.genre,
    sum(r.playbacks) as playbacks,
    sum(r.skips) as skips,
    sum(r.completes) as completes,
    round(sum(r.skips)::numeric / nullif(sum(r.playbacks), 0), 4) as skip_rate,
    round(sum(r.completes)::numeric / nullif(sum(r.playbacks), 0), 4) as completion_rate
from recent as r
join catalog.songs as s on s.id = r.song_id
join catalog.artists as a on a.id = s.artist_id
group by r.song_id, s.title, a.name, s.genre;

comment on view analytics.song_skip_rates is
    'Skip and completion rates per song over the last 28 days of listening.';
comment on column analytics.song_skip_rates.song_id is 'Song identifier (catalog.songs.id).';
comment on column analytics.song_skip_rates.title is 'Song title.';
comment on column analytics.song_skip_rates.artist is 'Artist name.';
comment on column analytics.song_skip_rates.genre is 'Song genre.';
comment on column analytics.song_skip_rates.playbacks is
    'Playbacks: listen, skip and complete events, less the web player''s 30-s progress reports.';
comment on column analytics.song_skip_rates.skips is 'Playbacks skipped before 30 s.';
comment on column analytics.song_skip_rates.completes is 'Playbacks heard to the end.';
comment on column analytics.song_skip_rates.skip_rate is 'skips / playbacks (0 to 1).';
comment on column analytics.song_skip_rates.completion_rate is 'completes / playbacks (0 to 1).';

grant select on analytics.song_skip_rates to analyst;
