-- depends: 0012.catalog_import
-- Serving an imported, changing catalog: the reads that skip taken-down songs and the ones
-- that find songs added since the served model was trained.
--
-- Every nearest-neighbour search checks each candidate against the taken-down songs; this
-- partial index holds only those, so the check is a probe of a tiny index.
create index songs_taken_down_idx on catalog.songs (id) where taken_down_at is not null;

-- "New from <artist>" and "New in <genre>": the newest songs of an artist or a genre, read
-- newest first from these indexes and stopped at the served model's training time.
create index songs_artist_created_idx on catalog.songs (artist_id, created_at desc);
create index songs_genre_created_idx on catalog.songs (genre, created_at desc);

comment on column catalog.songs.created_at is
    'When the song entered the catalog; a song newer than the served ALS model is served as'
    ' new (docs/serving.md).';
