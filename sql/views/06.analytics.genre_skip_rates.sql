-- analytics.genre_skip_rates: skip and completion rates per genre, last 28 days.
-- Reads analytics.song_skip_rates, so this file is numbered after that view's.
-- Re-created by every migrate run (recsys.db.migrate applies sql/views/ in file-name order),
-- so editing it needs no migration; dropping a view for good takes a numbered migration.

drop view if exists analytics.genre_skip_rates cascade;

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

grant select on analytics.genre_skip_rates to analyst;
