-- depends: 0020.listener_logins
-- Listeners' playlists (docs/playlists.md): what they keep. In the catalog schema, which the
-- analyst role reads (0006's default privileges grant it select on these tables too).
--
-- The constraints make the bad states impossible whatever the code does: a name of 1 to 200
-- characters, a song at most once per playlist, positions 1..10,000 and unique per playlist
-- (so no playlist holds more than 10,000 songs). The web app keeps positions contiguous
-- (1..n) under a row lock on the playlist (select ... for update); the uniqueness of
-- positions is checked at commit, so a reorder may shift them within its transaction.
create table catalog.playlists (
    id           uuid primary key default gen_random_uuid(),
    user_id      text not null references catalog.users (id) on delete cascade,
    name         text not null check (char_length(name) between 1 and 200),
    description  text check (char_length(description) <= 2000),
    public       boolean not null default false,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

create index playlists_by_owner on catalog.playlists (user_id, created_at desc, id);

create table catalog.playlist_songs (
    playlist_id  uuid not null references catalog.playlists (id) on delete cascade,
    song_id      text not null references catalog.songs (id),
    position     integer not null check (position between 1 and 10000),
    added_at     timestamptz not null default now(),
    primary key (playlist_id, song_id),
    constraint playlist_songs_position_key unique (playlist_id, position)
        deferrable initially deferred
);

-- "which playlists hold this song" (analysts; a song's takedown)
create index playlist_songs_by_song on catalog.playlist_songs (song_id);

comment on table catalog.playlists is
    'A listener''s playlist: name and description as the listener typed them (shown as text),'
    ' public (anyone may read it) or private (only its owner).';
comment on column catalog.playlists.user_id is 'The listener who owns the playlist.';
comment on column catalog.playlists.updated_at is
    'Last change of the playlist or of its songs (added, removed, reordered).';
comment on table catalog.playlist_songs is
    'The songs of each playlist in order: positions 1..n, contiguous. A song taken down stays'
    ' in the playlists that hold it (shown as unavailable).';
comment on column catalog.playlist_songs.added_at is
    'When the song was added (the add_to_playlist event''s time).';
