-- depends: 0015.serving_reads
-- What each listener said about a song with the player's buttons: the latest of their
-- like, unlike and dislike events (event actions, also in the lake). Serving reads it on
-- every request (a disliked song is never served to that listener again; artists disliked
-- twice or more go to the end of the list); the player's heart reads the likes.
create table catalog.song_feedback (
    user_id text not null references catalog.users (id),
    song_id text not null references catalog.songs (id),
    -- 'none' after an unlike: kept, so that an older like arriving late cannot revive it
    feedback text not null check (feedback in ('like', 'dislike', 'none')),
    at timestamptz not null,  -- the event's time: only a newer event changes the row
    event_id uuid not null,
    primary key (user_id, song_id)
);

create index song_feedback_by_kind on catalog.song_feedback (user_id, feedback, at desc);
