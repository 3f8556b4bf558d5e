-- depends: 0010.interval_checksums
-- Bring your own music: the ids other systems give a song or an artist, so imported
-- catalogs upsert by them and imported listening histories match by them; and takedowns.
--
-- catalog.songs.id / catalog.artists.id stay the catalog's own stable ids (an imported
-- catalog's `song_id` / `artist_id` column: any string the operator's system uses). The
-- columns below are optional ids from elsewhere, each naming at most one song or artist.

alter table catalog.artists
    add column mbid text;
create unique index artists_mbid_key on catalog.artists (mbid) where mbid is not null;

alter table catalog.songs
    add column mbid         text,
    add column isrc         text,
    add column spotify_uri  text,
    add column taken_down_at timestamptz;
create unique index songs_mbid_key on catalog.songs (mbid) where mbid is not null;
create unique index songs_isrc_key on catalog.songs (isrc) where isrc is not null;
create unique index songs_spotify_uri_key on catalog.songs (spotify_uri)
    where spotify_uri is not null;

comment on column catalog.artists.mbid is
    'MusicBrainz artist id, when the imported catalog gives one; matches listening histories.';
comment on column catalog.songs.mbid is
    'MusicBrainz recording id, when known; a history''s track MBID matches the song by it.';
comment on column catalog.songs.isrc is
    'International Standard Recording Code, when known.';
comment on column catalog.songs.spotify_uri is
    'spotify:track:<id>, when known; a Spotify streaming history matches the song by it.';
comment on column catalog.songs.taken_down_at is
    'Set when an admin takes the song down: from then on it is never recommended, searched or'
    ' shown in trending; its history stays in the lake and the counters.';
