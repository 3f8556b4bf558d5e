-- analytics.playlist_activity_daily: per day, the playlists created and the songs added to
-- playlists, by how many listeners (docs/playlists.md).
-- Reads catalog.playlists, catalog.playlist_songs.
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.playlist_activity_daily cascade;

create view analytics.playlist_activity_daily as
with created as (
    select (p.created_at at time zone 'UTC')::date as day, count(*) as playlists_created
    from catalog.playlists as p
    group by 1
),
added as (
    select (ps.added_at at time zone 'UTC')::date as day,
           count(*) as songs_added,
           count(distinct p.user_id) as listeners_adding,
           count(distinct ps.playlist_id) as playlists_added_to
    from catalog.playlist_songs as ps
    join catalog.playlists as p on p.id = ps.playlist_id
    group by 1
)
select
    coalesce(c.day, a.day) as day,
    coalesce(c.playlists_created, 0) as playlists_created,
    coalesce(a.songs_added, 0) as songs_added,
    coalesce(a.playlists_added_to, 0) as playlists_added_to,
    coalesce(a.listeners_adding, 0) as listeners_adding
from created as c
full join added as a on a.day = c.day;

comment on view analytics.playlist_activity_daily is
    'Per UTC day, playlists created and songs added to playlists, as the playlists are now:'
    ' a song since removed, or a deleted playlist, is not counted (the lake''s'
    ' add_to_playlist events keep every add).';
comment on column analytics.playlist_activity_daily.day is 'UTC day.';
comment on column analytics.playlist_activity_daily.playlists_created is
    'Playlists created that day and not deleted since.';
comment on column analytics.playlist_activity_daily.songs_added is
    'Songs added to playlists that day and still in them.';
comment on column analytics.playlist_activity_daily.playlists_added_to is
    'Distinct playlists those songs were added to.';
comment on column analytics.playlist_activity_daily.listeners_adding is
    'Distinct listeners (playlist owners) who added those songs.';

grant select on analytics.playlist_activity_daily to analyst;
