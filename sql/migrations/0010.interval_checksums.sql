-- depends: 0009.playbacks
-- Checksums that let the nightly resync verify a counted interval without counting it
-- again: what the lake held for the interval when it was counted (its rows and the sum of
-- their hashes) and what was written for it to the ledger. An interval whose checksums
-- still match was counted from the same lake rows into the same ledger rows; the resync
-- re-counts in full and compares only the others. Intervals counted before this migration
-- have none, so their first resync re-counts them in full, then records them.
alter table analytics.counter_runs
    add column lake_rows bigint,
    add column lake_checksum numeric(38, 0),
    add column ledger_checksum numeric(38, 0);

comment on column analytics.counter_runs.lake_rows is
    'Lake rows Kafka appended within the interval when it was counted (copies included).';
comment on column analytics.counter_runs.lake_checksum is
    'Sum of a 64-bit hash of each of those lake rows: changes when a row is added or removed.';
comment on column analytics.counter_runs.ledger_checksum is
    'Sum of a 64-bit hash of each of the interval''s rows in song_interval_stats, as written.';

alter table analytics.resync_runs
    add column intervals_rechecked integer not null default 0;

comment on column analytics.resync_runs.intervals_rechecked is
    'Counted intervals whose checksums no longer matched (or had none), so the resync '
    're-counted them from the lake and compared them row by row.';
