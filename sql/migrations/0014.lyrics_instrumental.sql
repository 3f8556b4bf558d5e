-- depends: 0013.catalog_serving
-- Lyrics imports record an instrumental as such: no lyrics (so nothing to embed) and this
-- flag, rather than a song whose lyrics are simply unknown.
alter table catalog.songs
    add column instrumental boolean not null default false;

comment on column catalog.songs.instrumental is
    'True when a lyrics import found the song to be instrumental (its lyrics are then empty).';
