-- analytics.playlisted_songs: the songs kept in listeners' playlists, most kept first.
-- Reads catalog.playlists, catalog.playlist_songs, catalog.songs, catalog.artists.
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.playlisted_songs cascade;

create view analytics.playlisted_songs as
with kept as (
    select ps.song_id,
           count(*) as playlists,
           count(*) filter (where p.public) as public_playlists,
           count(distinct p.user_id) as listeners,
           max(ps.added_at) as last_added_at
    from catalog.playlist_songs as ps
    join catalog.playlists as p on p.id = ps.playlist_id
    group by ps.song_id
)
select
    rank() over (order by k.listeners desc, k.playlists desc) as rank,
    k.song_id,
    s.title,
    a.name as artist,
    s.genre,
    k.playlists,
    k.public_playlists,
    k.listeners,
    k.last_added_at,
    s.taken_down_at is not null as taken_down
from kept as k
join catalog.songs as s on s.id = k.song_id
join catalog.artists as a on a.id = s.artist_id;

comment on view analytics.playlisted_songs is
    'Songs in listeners'' playlists: in how many playlists and of how many listeners.';
comment on column analytics.playlisted_songs.rank is
    '1 = kept by the most listeners (then in the most playlists; ties share a rank).';
comment on column analytics.playlisted_songs.song_id is 'Song identifier (catalog.songs.id).';
comment on column analytics.playlisted_songs.title is 'Song title.';
comment on column analytics.playlisted_songs.artist is 'Artist name.';
comment on column analytics.playlisted_songs.genre is 'Song genre.';
comment on column analytics.playlisted_songs.playlists is 'Playlists holding the song.';
comment on column analytics.playlisted_songs.public_playlists is
    'Public playlists holding the song.';
comment on column analytics.playlisted_songs.listeners is
    'Distinct listeners with the song in one of their playlists.';
comment on column analytics.playlisted_songs.last_added_at is
    'When the song was last added to a playlist that still holds it.';
comment on column analytics.playlisted_songs.taken_down is
    'Whether an admin took the song down (it stays in the playlists).';

grant select on analytics.playlisted_songs to analyst;
