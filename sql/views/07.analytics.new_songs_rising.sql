-- analytics.new_songs_rising: songs new on the chart this week or released in the last 180 days.
-- Reads analytics.trending_history, catalog.songs, catalog.artists.
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.new_songs_rising cascade;

create view analytics.new_songs_rising as
with latest as (
    select max(snapshot_date) as snapshot_date from analytics.trending_history
),
week_before as (
    select t.song_id, t.rank
    from analytics.trending_history as t, latest
    where t.snapshot_date = latest.snapshot_date - 7
)
select
    t.snapshot_date,
    t.rank,
    t.song_id,
    s.title,
    a.name as artist,
    s.release_date,
    t.plays_7d,
    w.rank as rank_week_before,
    case when w.rank is null then 'new on the chart' else 'recent release' end as why_new
from analytics.trending_history as t
join latest on latest.snapshot_date = t.snapshot_date
join catalog.songs as s on s.id = t.song_id
join catalog.artists as a on a.id = t.artist_id
left join week_before as w on w.song_id = t.song_id
where w.rank is null or s.release_date > t.snapshot_date - 180;

comment on view analytics.new_songs_rising is
    'New songs rising fastest: songs new on the chart this week (not ranked 7 days earlier) '
    'or released in the last 180 days, by their current rank.';
comment on column analytics.new_songs_rising.snapshot_date is 'Day of the latest snapshot.';
comment on column analytics.new_songs_rising.rank is 'Current rank.';
comment on column analytics.new_songs_rising.song_id is 'Song identifier (catalog.songs.id).';
comment on column analytics.new_songs_rising.title is 'Song title.';
comment on column analytics.new_songs_rising.artist is 'Artist name.';
comment on column analytics.new_songs_rising.release_date is 'Release date, when known.';
comment on column analytics.new_songs_rising.plays_7d is 'Plays over the 7 days.';
comment on column analytics.new_songs_rising.rank_week_before is 'Rank 7 days earlier; empty when not ranked then.';
comment on column analytics.new_songs_rising.why_new is 'Why the song counts as new.';

grant select on analytics.new_songs_rising to analyst;
