"""The catalog as the operator and the admins change it: imports of catalog files, batches of
songs from the admin API, takedowns.

- ``rows``: one catalog row (a song with its artist) as a pydantic model; its columns.
- ``files``: reading a CSV or JSON Lines catalog file record by record, with bounded lines.
- ``store``: the staging table, the checks across rows, the upsert and its counts,
  takedowns and restores (catalog.songs, catalog.artists).
- ``importer``: a whole file in one transaction, with ``--dry-run`` and ``--skip-invalid``.

Serving reads the catalog through ``webapp.services``; this package is what writes it
(besides the demo loader and the play counters).
"""
