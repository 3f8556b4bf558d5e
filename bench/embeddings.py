"""Lyrics embeddings: the Spark job's songs/s against a bare sentence-transformers encode.

Both embed the lyrics of the same demo world's catalog (``large`` by default: 20,000 songs,
the size of an imported catalog; ``--world`` picks another) with the same model, batch size
and normalisation, on a throwaway PostgreSQL holding only that catalog (no listening
history), so the ``make up`` stack is never touched. The bare encode runs in this process
on torch's default threads, with the model already loaded (the load is printed, not
counted). The job is timed end to end: ``run()`` on a fresh Spark session, reading the
catalog, starting the Python workers, loading the model in each, encoding, collecting, and
writing the vectors and the run's row. Rounds interleave the two, so a noisy moment on the
machine hits both alike; each round is printed as it ends, then the medians.
Target: the job at >= 0.7x the bare encode's songs/s on the 20,000 songs (on a smaller
world the job's fixed costs, the workers' start and model loads and the write, weigh more).

    python -m bench embeddings
    python -m bench.embeddings [--world small|default|large] [--rounds 3] [--layouts]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from bench.stack import throwaway_stack
from recsys import db
from recsys.embedding_model import load_model
from spark_jobs import lyrics_embeddings
from spark_jobs.common.session import spark_session

TARGET = 0.7


def bare_encode(model, texts: list[str], batch_size: int) -> float:
    """Seconds to encode ``texts`` with an already loaded model, in this process."""
    started = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - started


def job_run(settings, songs: int, layout=None) -> float:
    """Seconds of one job run embedding every song, on a new session (no warm workers)."""
    with db.connect(settings) as conn:
        conn.execute("truncate model.lyrics_embeddings")
    spark = spark_session("bench_embeddings", settings, **{"spark.ui.showConsoleProgress": "false"})
    try:
        started = time.perf_counter()
        report = lyrics_embeddings.run(spark, settings, "bench", layout=layout)
        seconds = time.perf_counter() - started
    finally:
        spark.stop()
    assert report.songs_embedded == songs, report
    return seconds


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--world",
        default="large",
        choices=("small", "default", "large"),
        help="the demo world whose catalog is embedded (default: large, 20,000 songs)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument(
        "--layouts",
        action="store_true",
        help="also time the job forced to one single-threaded partition per core, and to one "
        "partition on every core's thread (partitions x torch threads)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    # The Python workers must run this interpreter (torch and the model live in its venv).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    with throwaway_stack(args.world) as (settings, world):
        texts = [s["lyrics"] for s in world.songs if lyrics_embeddings.has_lyrics(s["lyrics"])]
        batch, n = settings.embedding_batch_size, len(texts)
        cores = os.cpu_count() or 1
        own = lyrics_embeddings.encode_layout(n, cores)
        layouts = {f"its layout, {own[0]} x {own[1]}": None}
        if args.layouts:
            layouts |= {f"forced, {cores} x 1": (cores, 1), f"forced, 1 x {cores}": (1, cores)}
        print(f"embedding {n:,} songs' lyrics (batch size {batch}) ...", flush=True)

        started = time.perf_counter()
        model = load_model()
        load_s = time.perf_counter() - started
        import torch  # loaded with the model; asked how many threads the bare encode uses

        threads = torch.get_num_threads()
        bare_s, job_s = [], {name: [] for name in layouts}
        for round_ in range(1, args.rounds + 1):
            bare_s.append(bare_encode(model, texts, batch))
            for name, layout in layouts.items():
                job_s[name].append(job_run(settings, n, layout))
            # Rounds take minutes at 20,000 songs: each is shown as it ends.
            jobs = ", ".join(f"job ({name}) {s[-1]:.1f}" for name, s in job_s.items())
            print(f"round {round_}: bare {bare_s[-1]:.1f} s, {jobs} s", flush=True)

        bare_rate = n / statistics.median(bare_s)
        print(f"\nmedians of {args.rounds} rounds")
        print(f"{'songs':48} {n:8,}")
        print(f"{'model load (not counted), s':48} {load_s:8.1f}")
        bare_label = f"bare encode, {threads} torch threads, songs/s"
        print(f"{bare_label:48} {bare_rate:8.1f}")
        for name, seconds in job_s.items():
            rate = n / statistics.median(seconds)
            ratio = rate / bare_rate
            label = f"Spark job end to end ({name}), songs/s"
            verdict = "meets" if ratio >= TARGET else "MISSES"
            print(f"{label:48} {rate:8.1f}  {ratio:5.2f}x  {verdict} target >= {TARGET}x")
        print("seconds per round: bare " + " ".join(f"{s:.1f}" for s in bare_s))
        for name, seconds in job_s.items():
            print(f"                   {name}: " + " ".join(f"{s:.1f}" for s in seconds))


if __name__ == "__main__":
    main()
