-- depends: 0014.lyrics_instrumental
-- Two reads of every recommendation request.
--
-- Before any model is served, model.active_factors is an empty view (it used to be missing),
-- so a request can ask in one statement whether a song has an ALS vector without first
-- asking whether a model is served. Activation replaces it (model_registry.versions).
do $$
begin
    if to_regclass('model.active_factors') is null then
        create view model.active_factors as
            select null::bigint as version, null::text as kind, null::text as id,
                   null::vector as factors
            where false;
    end if;
end
$$;

-- Every home page asks whether any song entered the catalog after the served model was
-- trained (only then does it look for "New from <artist>" and "New in <genre>"): the newest
-- song still served, one probe of this index, answers.
create index songs_created_idx on catalog.songs (created_at desc);
