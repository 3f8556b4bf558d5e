-- analytics.top_songs_7d: what is trending now, from the latest nightly trending snapshot.
-- Reads analytics.trending_history (written by trending_resync), catalog.songs, catalog.artists.
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.top_songs_7d cascade;

create view analytics.top_songs_7d as
with latest as (
    select max(snapshot_date) as snapshot_date from analytics.trending_history
)
select
    t.snapshot_date,
    t.rank,
    t.song_id,
    s.title,
    a.name as artist,
    s.genre,
    t.plays_7d,
    t.listeners_7d,
    t.previous_rank,
    t.rank_change
from analytics.trending_history as t
join latest on latest.snapshot_date = t.snapshot_date
join catalog.songs as s on s.id = t.song_id
join catalog.artists as a on a.id = t.artist_id;

comment on view analytics.top_songs_7d is
    'What is trending now: the latest nightly snapshot, songs ranked by plays over 7 days.';
comment on column analytics.top_songs_7d.snapshot_date is 'Day the snapshot ranks (its last event day).';
comment on column analytics.top_songs_7d.rank is '1 = most played over the 7 days.';
comment on column analytics.top_songs_7d.song_id is 'Song identifier (catalog.songs.id).';
comment on column analytics.top_songs_7d.title is 'Song title.';
comment on column analytics.top_songs_7d.artist is 'Artist name.';
comment on column analytics.top_songs_7d.genre is 'Song genre.';
comment on column analytics.top_songs_7d.plays_7d is 'Plays (listens of 30 s or more, and completes; one per playback) over the 7 days.';
comment on column analytics.top_songs_7d.listeners_7d is 'Distinct listeners with at least one play over the 7 days.';
comment on column analytics.top_songs_7d.previous_rank is 'Rank the day before; empty when the song was not ranked.';
comment on column analytics.top_songs_7d.rank_change is 'previous_rank - rank: positive means the song climbed.';

grant select on analytics.top_songs_7d to analyst;
