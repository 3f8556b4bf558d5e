-- depends: 0023.serving_speed
-- Similar songs computed ahead (docs/playlists.md#similar-songs): the similar_songs DAG runs
-- the endpoint's own statement for every served song once a model or the lyrics vectors
-- change, and keeps each song's merged candidates with their exact scores. A request then
-- reads its song's row instead of searching both HNSW indexes. A list is used only while
-- the served model, the lyrics vectors and the search settings are the ones it was computed
-- under, so it is the answer the searches would give (songs taken down since leave it when
-- it is read, as they leave a list a web worker keeps).

-- A number that moves whenever a lyrics vector is added, changed or removed: stored lists
-- computed under another number are not used. Statement triggers with transition tables,
-- so a lyrics run that embeds nothing (the usual nightly run) leaves it alone.
create table model.lyrics_version (
    singleton boolean primary key default true check (singleton),
    version bigint not null
);
insert into model.lyrics_version (version) values (1);
comment on table model.lyrics_version is
    'One row: a number that moves whenever model.lyrics_embeddings changes (similar-song lists'
    ' computed under another number are not served).';

create function model.bump_lyrics_version() returns trigger
language plpgsql as $$
begin
    if tg_op = 'TRUNCATE' or exists (select from changed) then
        update model.lyrics_version set version = version + 1;
    end if;
    return null;
end
$$;

create trigger lyrics_inserted after insert on model.lyrics_embeddings
    referencing new table as changed
    for each statement execute function model.bump_lyrics_version();
create trigger lyrics_updated after update on model.lyrics_embeddings
    referencing new table as changed
    for each statement execute function model.bump_lyrics_version();
create trigger lyrics_deleted after delete on model.lyrics_embeddings
    referencing old table as changed
    for each statement execute function model.bump_lyrics_version();

create function model.bump_lyrics_version_truncated() returns trigger
language plpgsql as $$
begin
    update model.lyrics_version set version = version + 1;
    return null;
end
$$;

create trigger lyrics_truncated after truncate on model.lyrics_embeddings
    for each statement execute function model.bump_lyrics_version_truncated();

-- One row per computation: under what it ran, how far it got. Only a 'complete' run's lists
-- are served; publishing one removes the model version's earlier runs (their lists with them).
create table model.similar_list_runs (
    id              bigint generated always as identity primary key,
    model_version   bigint not null,
    lyrics_version  bigint not null,
    candidate_pool  integer not null check (candidate_pool > 0),
    ef_search       integer not null check (ef_search > 0),
    status          text not null default 'running'
                    check (status in ('running', 'complete', 'failed', 'stale')),
    songs           integer,
    dag_run_id      text,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz,
    reason          text
);
create index similar_list_runs_served on model.similar_list_runs (model_version, lyrics_version)
    where status = 'complete';
comment on table model.similar_list_runs is
    'One row per similar_songs computation: the model and lyrics versions and search settings'
    ' it ran under, its status and how many songs it listed.';

-- A song's merged candidates (ALS and lyrics neighbours) with both exact scores, in no
-- particular order: the endpoint ranks them as it ranks a fresh search's.
create table model.similar_lists (
    run_id   bigint not null references model.similar_list_runs (id) on delete cascade,
    song_id  text not null,
    ids      text[] not null,
    als      float8[] not null,
    lyrics   float8[] not null,
    primary key (run_id, song_id),
    check (cardinality(ids) = cardinality(als) and cardinality(ids) = cardinality(lyrics))
);
comment on table model.similar_lists is
    'Each served song''s similar-song candidates with their ALS and lyrics scores (null: the'
    ' song has no such vector), computed by the similar_songs DAG.';
