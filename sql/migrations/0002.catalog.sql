-- depends: 0001.schemas
create table catalog.artists (
    id          text primary key,
    name        text not null,
    genre       text not null,
    created_at  timestamptz not null default now()
);

create table catalog.songs (
    id                text primary key,
    title             text not null,
    artist_id         text not null references catalog.artists (id),
    album             text,
    genre             text not null,
    duration_s        integer not null check (duration_s > 0),
    release_date      date,
    image_url         text,
    audio_url         text,
    lyrics            text,
    plays_cumulative  bigint not null default 0 check (plays_cumulative >= 0),
    plays_7d          bigint not null default 0 check (plays_7d >= 0),
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now()
);
create index songs_artist_idx on catalog.songs (artist_id);
create index songs_genre_idx on catalog.songs (genre);

create table catalog.users (
    id                 text primary key,
    display_name       text not null,
    country            text,
    onboarding_genres  text[] not null default '{}',
    created_at         timestamptz not null default now()
);

comment on column catalog.songs.plays_cumulative is
    'Plays since the song was added, maintained by the play_counters DAG every 15 minutes.';
comment on column catalog.songs.plays_7d is
    'Plays over the last 7 event days, recomputed nightly by the trending_resync DAG.';
comment on column catalog.users.onboarding_genres is
    'Genres the listener picked at onboarding; used for cold-start recommendations.';
