-- depends: 0010.interval_checksums
-- What an ALS run read, beside what it trained on: the events of its window as read from the
-- lake (every row, before duplicates are dropped and events become per-pair feedback), so a
-- run on an imported history shows how much of it the window held.
alter table model.als_runs add column n_events bigint;

comment on column model.als_runs.n_events is
    'Lake events read in the window [window_start, window_end), duplicates included.';
comment on column model.als_runs.n_users is 'Listeners with feedback in the window.';
comment on column model.als_runs.n_items is 'Songs with feedback in the window.';
comment on column model.als_runs.n_interactions is
    '(listener, song) pairs the model was fitted on: the training days'' for a rejected model, '
    'the whole window''s for a passed one (it is re-trained on the window before it is served).';
comment on column model.als_runs.n_holdout_users is
    'Listeners the holdout evaluated (first plays in the holdout of songs they knew before).';
