-- depends: 0021.playlists
-- Serving speed: what a page shows of a song (title, artist and its name, genre, duration,
-- image and audio, whether it is taken down) is kept in each web worker instead of being
-- read on every request. catalog.song_details_version counts the changes of those columns:
-- every statement that may change one bumps it, in its own transaction, so a request reading
-- the number in its snapshot knows whether what its worker kept is still current
-- (webapp/services/served_songs.py). A counter row rather than a sequence: a sequence moves
-- before the change commits, and a reader would keep the old details under the new number.
-- Statement triggers: an upsert of 20,000 songs bumps it once; the play counters' updates
-- (plays, updated_at) and lyrics changes do not bump it at all.
create table catalog.song_details_version (
    singleton boolean primary key default true check (singleton),
    version bigint not null
);
insert into catalog.song_details_version (version) values (1);
comment on table catalog.song_details_version is
    'One row: a number that moves whenever a song''s or an artist''s shown details may have'
    ' changed (web workers keep the details while it stands still).';

create function catalog.bump_song_details_version() returns trigger
language plpgsql as $$
begin
    update catalog.song_details_version set version = version + 1;
    return null;
end
$$;

create trigger songs_details_changed
    after insert or delete or update of title, artist_id, genre, duration_s, image_url,
        audio_url, taken_down_at
    on catalog.songs
    for each statement execute function catalog.bump_song_details_version();
create trigger songs_truncated
    after truncate on catalog.songs
    for each statement execute function catalog.bump_song_details_version();
create trigger artists_details_changed
    after insert or delete or update of name on catalog.artists
    for each statement execute function catalog.bump_song_details_version();
create trigger artists_truncated
    after truncate on catalog.artists
    for each statement execute function catalog.bump_song_details_version();
