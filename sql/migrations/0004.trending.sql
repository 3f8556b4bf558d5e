-- depends: 0003.play_counters
-- The nightly trending resync: a ranked snapshot per day, kept forever as history, and a
-- record of every resync run with how much counter drift it found and corrected.

create table analytics.trending_history (
    snapshot_date  date not null,
    rank           integer not null check (rank > 0),
    song_id        text not null,
    artist_id      text not null,
    plays_7d       bigint not null,
    listeners_7d   bigint not null,
    previous_rank  integer,
    rank_change    integer,
    primary key (snapshot_date, song_id),
    unique (snapshot_date, rank)
);
create index trending_history_song_idx on analytics.trending_history (song_id, snapshot_date);

create table analytics.resync_runs (
    snapshot_date        date primary key,
    window_start         date not null,
    songs_ranked         integer not null,
    plays_7d_total       bigint not null,
    intervals_checked    integer not null,
    intervals_corrected  integer not null,
    events_corrected     bigint not null,
    plays_corrected      bigint not null,
    daily_rows_corrected integer not null,
    songs_corrected      integer not null,
    computed_at          timestamptz not null default now()
);

comment on table analytics.trending_history is
    'One ranked trending snapshot per day (plays over the 7 event days ending that day).';
comment on table analytics.resync_runs is
    'One row per trending_resync day: what was ranked and how much counter drift was fixed '
    '(normally zero).';
