"""Importers of files from other systems into the warehouse.

Listening histories (``python -m recsysctl import history FORMAT FILE...``): one parser per
source format (``lastfm``, ``listenbrainz``, ``spotify``, ``interactions_csv``), each
streaming its file into canonical listens (``listens.LISTEN_SCHEMA`` batches) and
``listens.RowError``s; ``matching`` finds each listen's catalog song; ``history`` runs an
import end to end into the lake's ``raw/imported_events`` exactly once: ``history_read``
parses, matches and gives ids into a spill, ``history_lake`` stages and publishes it,
``history_parallel`` does both on every core for a large file, ``history_catalog`` reads and
extends the catalog.
The formats and their mappings are documented in docs/importing.md.
"""
