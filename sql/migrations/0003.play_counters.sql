-- depends: 0002.catalog
-- The 15-minute play counters. A run counts the events Kafka appended within its data
-- interval [interval_start, interval_end). A re-run replaces the interval's rows, and the
-- daily stats and plays_cumulative are re-derived from these rows, so re-runs, retries and
-- backfills never double count.
create extension if not exists btree_gist;

-- The counters' ledger: one row per interval counted. Intervals may not overlap, so no
-- event can ever be counted by two runs.
create table analytics.counter_runs (
    interval_start  timestamptz primary key,
    interval_end    timestamptz not null,
    events          bigint not null,
    plays           bigint not null,
    completes       bigint not null,
    skips           bigint not null,
    seconds_heard   bigint not null,
    counted_at      timestamptz not null default now(),
    check (interval_end > interval_start),
    constraint counter_runs_no_overlap
        exclude using gist (tstzrange(interval_start, interval_end) with &&)
);

-- Per-interval stats, split by the event's own day so late events count in their day.
create table analytics.song_interval_stats (
    interval_start  timestamptz not null
        references analytics.counter_runs (interval_start) on delete cascade,
    event_date      date not null,
    song_id         text not null,
    events          bigint not null,
    plays           bigint not null,
    completes       bigint not null,
    skips           bigint not null,
    listeners       bigint not null,
    seconds_heard   bigint not null,
    primary key (interval_start, event_date, song_id)
);
create index song_interval_stats_day_idx on analytics.song_interval_stats (event_date, song_id);
create index song_interval_stats_song_idx on analytics.song_interval_stats (song_id);

-- Who played a song on a day, so daily listeners are exact distinct counts, not sums.
create table analytics.song_daily_listeners (
    event_date            date not null,
    song_id               text not null,
    user_id               text not null,
    first_interval_start  timestamptz not null,
    primary key (event_date, song_id, user_id)
);
create index song_daily_listeners_interval_idx
    on analytics.song_daily_listeners (first_interval_start);

-- Per-day stats, derived from the two tables above for every (day, song) a run touches.
create table analytics.song_daily_stats (
    event_date     date not null,
    song_id        text not null,
    events         bigint not null,
    plays          bigint not null,
    completes      bigint not null,
    skips          bigint not null,
    listeners      bigint not null,
    seconds_heard  bigint not null,
    updated_at     timestamptz not null default now(),
    primary key (event_date, song_id)
);
create index song_daily_stats_song_idx on analytics.song_daily_stats (song_id);

comment on table analytics.counter_runs is
    'Ledger of counted intervals (Kafka append time, half-open); one row per play_counters run.';
comment on table analytics.song_interval_stats is
    'Events appended in an interval, per event day and song. plays = listens of at least '
    '30 s plus completes; listeners = distinct users with a play.';
comment on table analytics.song_daily_stats is
    'Per event day and song: sums over song_interval_stats, listeners distinct over the day.';
