-- Views for SQL analysts, re-created on every `recsys migrate` (yoyo post-apply step).
-- Every view and column is documented with COMMENT ON; the analyst role reads them.

drop view if exists analytics.top_songs_7d, analytics.top_artists_7d,
    analytics.song_rank_history, analytics.daily_song_plays, analytics.song_skip_rates,
    analytics.genre_skip_rates, analytics.new_songs_rising cascade;

create view analytics.top_songs_7d as
with latest as (
    select max(snapshot_date) as snapshot_date from analytics.trending_history
)
select
    t.snapshot_date,
    t.rank,
    t.song_id,
    s.title,
    a.name as artist,
    s.genre,
    t.plays_7d,
    t.listeners_7d,
    t.previous_rank,
    t.rank_change
from analytics.trending_history as t
join latest on latest.snapshot_date = t.snapshot_date
join catalog.songs as s on s.id = t.song_id
join catalog.artists as a on a.id = t.artist_id;

comment on view analytics.top_songs_7d is
    'What is trending now: the latest nightly snapshot, songs ranked by plays over 7 days.';
comment on column analytics.top_songs_7d.snapshot_date is 'Day the snapshot ranks (its last event day).';
comment on column analytics.top_songs_7d.rank is '1 = most played over the 7 days.';
comment on column analytics.top_songs_7d.song_id is 'Song identifier (catalog.songs.id).';
comment on column analytics.top_songs_7d.title is 'Song title.';
comment on column analytics.top_songs_7d.artist is 'Artist name.';
comment on column analytics.top_songs_7d.genre is 'Song genre.';
comment on column analytics.top_songs_7d.plays_7d is 'Plays (listens of 30 s or more, and completes; one per playback) over the 7 days.';
comment on column analytics.top_songs_7d.listeners_7d is 'Distinct listeners with at least one play over the 7 days.';
comment on column analytics.top_songs_7d.previous_rank is 'Rank the day before; empty when the song was not ranked.';
comment on column analytics.top_songs_7d.rank_change is 'previous_rank - rank: positive means the song climbed.';

create view analytics.song_rank_history as
select
    t.snapshot_date,
    t.song_id,
    s.title,
    a.name as artist,
    t.rank,
    t.plays_7d,
    t.listeners_7d,
    t.rank_change
from analytics.trending_history as t
join catalog.songs as s on s.id = t.song_id
join catalog.artists as a on a.id = t.artist_id;

comment on view analytics.song_rank_history is
    'How songs moved: every daily snapshot, one row per song and day it was ranked.';
comment on column analytics.song_rank_history.snapshot_date is 'Day of the snapshot.';
comment on column analytics.song_rank_history.song_id is 'Song identifier (catalog.songs.id).';
comment on column analytics.song_rank_history.title is 'Song title.';
comment on column analytics.song_rank_history.artist is 'Artist name.';
comment on column analytics.song_rank_history.rank is 'Rank that day (1 = most played over its 7 days).';
comment on column analytics.song_rank_history.plays_7d is 'Plays over the 7 days ending that day.';
comment on column analytics.song_rank_history.listeners_7d is 'Distinct listeners over the 7 days ending that day.';
comment on column analytics.song_rank_history.rank_change is 'Places climbed since the day before (negative: fell).';

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

create view analytics.daily_song_plays as
select
    d.event_date,
    d.song_id,
    s.title,
    a.name as artist,
    s.genre,
    d.plays,
    d.listeners,
    d.completes,
    d.skips,
    d.seconds_heard
from analytics.song_daily_stats as d
join catalog.songs as s on s.id = d.song_id
join catalog.artists as a on a.id = s.artist_id;

comment on view analytics.daily_song_plays is
    'Plays and listeners per song per day (the listener''s day, UTC), kept current every 15 minutes.';
comment on column analytics.daily_song_plays.event_date is 'Day the listening happened (UTC).';
comment on column analytics.daily_song_plays.song_id is 'Song identifier (catalog.songs.id).';
comment on column analytics.daily_song_plays.title is 'Song title.';
comment on column analytics.daily_song_plays.artist is 'Artist name.';
comment on column analytics.daily_song_plays.genre is 'Song genre.';
comment on column analytics.daily_song_plays.plays is 'Plays: listens of 30 s or more, plus completes; one per playback.';
comment on column analytics.daily_song_plays.listeners is 'Distinct listeners with at least one play that day.';
comment on column analytics.daily_song_plays.completes is 'Playbacks heard to the end.';
comment on column analytics.daily_song_plays.skips is 'Playbacks skipped before 30 s.';
comment on column analytics.daily_song_plays.seconds_heard is 'Total seconds listened, each playback''s seconds once.';

create view analytics.song_skip_rates as
with recent as (
    select d.*
    from analytics.song_daily_stats as d
    where d.event_date > (select max(event_date) from analytics.song_daily_stats) - 28
)
select
    r.song_id,
    s.title,
    a.name as artist,
    s.genre,
    sum(r.playbacks) as playbacks,
    sum(r.skips) as skips,
    sum(r.completes) as completes,
    round(sum(r.skips)::numeric / nullif(sum(r.playbacks), 0), 4) as skip_rate,
    round(sum(r.completes)::numeric / nullif(sum(r.playbacks), 0), 4) as completion_rate
from recent as r
join catalog.songs as s on s.id = r.song_id
join catalog.artists as a on a.id = s.artist_id
group by r.song_id, s.title, a.name, s.genre;

comment on view analytics.song_skip_rates is
    'Skip and completion rates per song over the last 28 days of listening.';
comment on column analytics.song_skip_rates.song_id is 'Song identifier (catalog.songs.id).';
comment on column analytics.song_skip_rates.title is 'Song title.';
comment on column analytics.song_skip_rates.artist is 'Artist name.';
comment on column analytics.song_skip_rates.genre is 'Song genre.';
comment on column analytics.song_skip_rates.playbacks is
    'Playbacks: listen, skip and complete events, less the web player''s 30-s progress reports.';
comment on column analytics.song_skip_rates.skips is 'Playbacks skipped before 30 s.';
comment on column analytics.song_skip_rates.completes is 'Playbacks heard to the end.';
comment on column analytics.song_skip_rates.skip_rate is 'skips / playbacks (0 to 1).';
comment on column analytics.song_skip_rates.completion_rate is 'completes / playbacks (0 to 1).';

create view analytics.genre_skip_rates as
select
    genre,
    count(*) as songs,
    sum(playbacks) as playbacks,
    round(sum(skips)::numeric / nullif(sum(playbacks), 0), 4) as skip_rate,
    round(sum(completes)::numeric / nullif(sum(playbacks), 0), 4) as completion_rate
from analytics.song_skip_rates
group by genre;

comment on view analytics.genre_skip_rates is
    'Skip and completion rates per genre over the last 28 days of listening.';
comment on column analytics.genre_skip_rates.genre is 'Genre.';
comment on column analytics.genre_skip_rates.songs is 'Songs of the genre played in the 28 days.';
comment on column analytics.genre_skip_rates.playbacks is 'Playbacks of the genre''s songs.';
comment on column analytics.genre_skip_rates.skip_rate is 'skips / playbacks (0 to 1).';
comment on column analytics.genre_skip_rates.completion_rate is 'completes / playbacks (0 to 1).';

create view analytics.new_songs_rising as
with latest as (
    select max(snapshot_date) as snapshot_date from analytics.trending_history
),
week_before as (
    select t.song_id, t.rank
    from analytics.trending_history as t, latest
    where t.snapshot_date = latest.snapshot_date - 7
)
select
    t.snapshot_date,
    t.rank,
    t.song_id,
    s.title,
    a.name as artist,
    s.release_date,
    t.plays_7d,
    w.rank as rank_week_before,
    case when w.rank is null then 'new on the chart' else 'recent release' end as why_new
from analytics.trending_history as t
join latest on latest.snapshot_date = t.snapshot_date
join catalog.songs as s on s.id = t.song_id
join catalog.artists as a on a.id = t.artist_id
left join week_before as w on w.song_id = t.song_id
where w.rank is null or s.release_date > t.snapshot_date - 180;

comment on view analytics.new_songs_rising is
    'New songs rising fastest: songs new on the chart this week (not ranked 7 days earlier) '
    'or released in the last 180 days, by their current rank.';
comment on column analytics.new_songs_rising.snapshot_date is 'Day of the latest snapshot.';
comment on column analytics.new_songs_rising.rank is 'Current rank.';
comment on column analytics.new_songs_rising.song_id is 'Song identifier (catalog.songs.id).';
comment on column analytics.new_songs_rising.title is 'Song title.';
comment on column analytics.new_songs_rising.artist is 'Artist name.';
comment on column analytics.new_songs_rising.release_date is 'Release date, when known.';
comment on column analytics.new_songs_rising.plays_7d is 'Plays over the 7 days.';
comment on column analytics.new_songs_rising.rank_week_before is 'Rank 7 days earlier; empty when not ranked then.';
comment on column analytics.new_songs_rising.why_new is 'Why the song counts as new.';

grant select on all tables in schema catalog, analytics to analyst;
