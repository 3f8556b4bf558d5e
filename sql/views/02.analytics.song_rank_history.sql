-- analytics.song_rank_history: how songs moved, one row per song and day it was ranked.
-- Reads analytics.trending_history, catalog.songs, catalog.artists.
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.song_rank_history cascade;

create view analytics.song_rank_history as
select
    t.snapshot_date,
    t.song_id,
    s.title,
    a.name as artist,
    t.rank,
    t.plays_7d,
    t.listeners_7d,
    t.rank_change
from analytics.trending_history as t
join catalog.songs as s on s.id = t.song_id
join catalog.artists as a on a.id = t.artist_id;

comment on view analytics.song_rank_history is
    'How songs moved: every daily snapshot, one row per song and day it was ranked.';
comment on column analytics.song_rank_history.snapshot_date is 'Day of the snapshot.';
comment on column analytics.song_rank_history.song_id is 'Song identifier (catalog.songs.id).';
comment on column analytics.song_rank_history.title is 'Song title.';
comment on column analytics.song_rank_history.artist is 'Artist name.';
comment on column analytics.song_rank_history.rank is 'Rank that day (1 = most played over its 7 days).';
comment on column analytics.song_rank_history.plays_7d is 'Plays over the 7 days ending that day.';
comment on column analytics.song_rank_history.listeners_7d is 'Distinct listeners over the 7 days ending that day.';
comment on column analytics.song_rank_history.rank_change is 'Places climbed since the day before (negative: fell).';

grant select on analytics.song_rank_history to analyst;
