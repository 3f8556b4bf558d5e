-- depends: 0007.models
-- Typo-tolerant search of songs and artists with the database's own trigram matching:
-- "midnigt" finds "Midnight Drive". GIN trigram indexes serve the % and <% operators.
create extension if not exists pg_trgm;
create index songs_title_trgm on catalog.songs using gin (lower(title) gin_trgm_ops);
create index artists_name_trgm on catalog.artists using gin (lower(name) gin_trgm_ops);
