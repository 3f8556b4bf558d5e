-- analytics.top_artists_7d: artists ranked by their songs' plays in the latest trending snapshot.
-- Reads analytics.trending_history, catalog.artists.
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.top_artists_7d cascade;

create view analytics.top_artists_7d as
with latest as (
    select max(snapshot_date) as snapshot_date from analytics.trending_history
),
artist_plays as (
    select t.artist_id, sum(t.plays_7d) as plays_7d, count(*) as songs_ranked,
           min(t.rank) as best_song_rank
    from analytics.trending_history as t
    join latest on latest.snapshot_date = t.snapshot_date
    group by t.artist_id
)
select
    (select snapshot_date from latest) as snapshot_date,
    rank() over (order by p.plays_7d desc) as rank,
    p.artist_id,
    a.name as artist,
    a.genre,
    p.plays_7d,
    p.songs_ranked,
    p.best_song_rank
from artist_plays as p
join catalog.artists as a on a.id = p.artist_id;

comment on view analytics.top_artists_7d is
    'Artists ranked by the 7-day plays of their songs in the latest trending snapshot.';
comment on column analytics.top_artists_7d.snapshot_date is 'Day of the snapshot.';
comment on column analytics.top_artists_7d.rank is '1 = most played artist (ties share a rank).';
comment on column analytics.top_artists_7d.artist_id is 'Artist identifier (catalog.artists.id).';
comment on column analytics.top_artists_7d.artist is 'Artist name.';
comment on column analytics.top_artists_7d.genre is 'Artist''s main genre.';
comment on column analytics.top_artists_7d.plays_7d is 'Plays of the artist''s ranked songs over the 7 days.';
comment on column analytics.top_artists_7d.songs_ranked is 'How many of the artist''s songs are in the snapshot.';
comment on column analytics.top_artists_7d.best_song_rank is 'Rank of the artist''s best-placed song.';

grant select on analytics.top_artists_7d to analyst;
