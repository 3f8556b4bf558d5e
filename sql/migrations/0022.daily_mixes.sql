-- depends: 0021.playlists
-- Nightly mixes (docs/mixes.md): the daily_mixes job builds, for every listener active in
-- the last RECSYS_MIXES_ACTIVE_DAYS, a few mixes per mix day; listeners are served the mixes
-- of the one active day. A run writes its day's rows and moves the pointer in one
-- transaction, so a reader sees yesterday's mixes or today's, whole; re-running a day
-- replaces exactly that day's rows.
create schema if not exists mixes;

-- One row per built day: what it was built from and how much it holds.
create table mixes.runs (
    mix_day        date primary key,
    model_version  bigint not null,
    listeners      integer not null check (listeners >= 0),
    mixes          integer not null check (mixes >= 0),
    songs          integer not null check (songs >= 0),
    dag_run_id     text,
    built_at       timestamptz not null default now()
);

-- A listener's mixes of a day, in the order shown; the songs as one array in play order, so
-- that serving a listener's mixes is one probe of the primary key.
create table mixes.listener_mixes (
    mix_day     date not null references mixes.runs (mix_day) on delete cascade,
    user_id     text not null,
    position    smallint not null check (position >= 1),
    kind        text not null check (kind in ('daily', 'discovery')),
    title       text not null,
    cover_urls  text[] not null default '{}',
    song_ids    text[] not null check (cardinality(song_ids) >= 1),
    primary key (mix_day, user_id, position)
);

-- The day listeners are served (a single row; absent before the first run).
create table mixes.active_day (
    singleton    boolean primary key default true check (singleton),
    mix_day      date not null references mixes.runs (mix_day),
    switched_at  timestamptz not null default now()
);

-- What listeners did with a day's mixes on the day they were served (the day after the mix
-- day): written by the daily_mixes run of the next day, read through the analyst views.
create table analytics.mix_engagement (
    mix_day           date not null,
    user_id           text not null,
    position          smallint not null,
    kind              text not null,
    songs             integer not null,
    songs_played      integer not null,
    plays             integer not null,
    completes         integer not null,
    skips             integer not null,
    plays_from_mix    integer not null,
    skips_from_mix    integer not null,
    seconds_listened  bigint not null,
    computed_at       timestamptz not null default now(),
    primary key (mix_day, user_id, position)
);

comment on table mixes.listener_mixes is
    'Nightly mixes per listener and mix day (built by the daily_mixes DAG, docs/mixes.md).';
comment on column mixes.listener_mixes.kind is
    '''daily'': one taste cluster of the listener''s songs and its neighbours; ''discovery'':'
    ' songs the listener never heard, nearest to their taste.';
comment on column mixes.listener_mixes.cover_urls is
    'Image URLs of up to 4 of the mix''s songs (distinct artists first), for a mosaic cover.';
comment on table mixes.active_day is
    'The mix day listeners are served; switched after a day''s rows are all written.';
comment on table analytics.mix_engagement is
    'Plays and skips of each listener''s mix songs on the day the mix was served (docs/mixes.md).';

grant usage on schema mixes to analyst;
grant select on all tables in schema mixes to analyst;
grant select on analytics.mix_engagement to analyst;
