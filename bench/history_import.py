"""History import (``python -m recsysctl import history lastfm FILE``) against a bare Arrow
baseline, on generated Last.fm-1K-format files of 1M and 10M rows (target: at least 0.2x the
baseline's rows/s; peak memory at 10M within 20% of that at 1M).

The files have the real format (tab-separated, no header: user, ISO time, artist MBID,
artist, track MBID, track; by user, newest first) and synthetic content: 1,000 listeners at
the same density at both sizes (6,000 scrobbles a day, so the 10M file spans ten times the
days), of the default demo world's songs by name, 0.5% of tracks the catalog lacks and 0.05%
of lines repeated. Each import runs end to end, as an operator would run it, in its own
process on a throwaway stack (PostgreSQL with the demo catalog, a fresh lake); its peak
memory is that process's RSS high-water mark (``wait4``'s ``ru_maxrss``), and that of it and
its worker processes together (sampled every 50 ms). The baseline,
measured in the same run on the same file: pyarrow reads the file (``read_csv``, all
cores) and writes the same rows as one Parquet file.

Afterwards the lake must be exact: its distinct event ids equal the file's distinct listens
of catalog tracks, and it holds no copy of any.

    python -m bench import [--sizes 1000000 10000000] [--keep FOLDER]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from bench.stack import throwaway_stack
from recsys.importers.matching import name_keys
from recsys.lake import imported_events_path
from recsys.settings import PROJECT_ROOT

USERS = 1_000
ROWS_PER_DAY = 6_000
START = datetime(2005, 2, 14, tzinfo=UTC)
UNKNOWN_SHARE = 0.005
REPEATED_SHARE = 0.0005
TARGET_RATIO = 0.2
MEMORY_TOLERANCE = 0.20


def catalog_tracks(world) -> tuple[list[str], list[str]]:
    """(artist names, titles) of the world's songs, one song per normalised name pair."""
    artist_name = {a["id"]: a["name"] for a in world.artists}
    artists = [artist_name[s["artist_id"]] for s in world.songs]
    titles = [s["title"] for s in world.songs]
    keys = name_keys(pa.array(artists), pa.array(titles)).to_pylist()
    first = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    keep = sorted(first.values())
    return [artists[i] for i in keep], [titles[i] for i in keep]


def write_history(path: Path, rows: int, artists: list[str], titles: list[str], seed: int = 1):
    """A Last.fm-1K-format file of about ``rows`` lines; returns (lines written, distinct
    listens of catalog tracks)."""
    rng = np.random.default_rng(seed)
    days = max(1, rows // ROWS_PER_DAY)
    unknown_artists = [f"Unsigned Band {i}" for i in range(50)]
    unknown_titles = [f"Demo Tape {i}" for i in range(50)]
    all_artists = pa.array(artists + unknown_artists)
    all_titles = pa.array(titles + unknown_titles)
    per_user = rows // USERS
    written = distinct = 0
    with open(path, "wb") as out:
        for first_user in range(0, USERS, 100):
            users = np.repeat(np.arange(first_user, first_user + 100), per_user)
            seconds = rng.integers(0, days * 86_400, len(users))
            known = rng.random(len(users)) >= UNKNOWN_SHARE
            track = np.where(
                known,
                rng.integers(0, len(artists), len(users)),
                len(artists) + rng.integers(0, 50, len(users)),
            )
            order = np.lexsort((-seconds, users))  # by user, newest first
            users, seconds, track, known = users[order], seconds[order], track[order], known[order]
            repeat = np.flatnonzero(rng.random(len(users)) < REPEATED_SHARE)
            lines = np.sort(np.concatenate([np.arange(len(users)), repeat]))
            users, seconds, track, known = users[lines], seconds[lines], track[lines], known[lines]
            out.write(_lines(users, seconds, track, all_artists, all_titles))
            written += len(users)
            listens = pa.table({"u": users[known], "s": seconds[known], "t": track[known]})
            distinct += listens.group_by(["u", "s", "t"]).aggregate([]).num_rows
    return written, distinct


def _lines(users, seconds, track, artists: pa.Array, titles: pa.Array) -> bytes:
    start_s = int(START.timestamp())
    when = pc.strftime(pa.array(seconds + start_s, pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%SZ")
    user = pc.utf8_lpad(pc.cast(pa.array(users + 1), pa.string()), 6, "0")
    empty = pa.array([""] * len(users))
    joined = pc.binary_join_element_wise(
        pc.binary_join_element_wise("user_", user, ""),
        when,
        empty,
        pc.take(artists, pa.array(track)),
        empty,
        pc.take(titles, pa.array(track)),
        "\t",
    )
    return ("\n".join(joined.to_pylist()) + "\n").encode()


def baseline(path: Path, out: Path) -> float:
    """Seconds for pyarrow to read the file and write its rows as Parquet."""
    started = time.perf_counter()
    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(column_names=[f"c{i}" for i in range(6)]),
        parse_options=pa_csv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys([f"c{i}" for i in range(6)], pa.string())
        ),
    )
    pq.write_table(table, out)
    return time.perf_counter() - started


# Runs the import and measures it from a small process: a child's ru_maxrss starts at its
# parent's RSS when forked, so the import must not be forked from this (large) process.
_MEASURED = """
import json, os, subprocess, sys, time
import psutil
proc = subprocess.Popen(sys.argv[1:])
root, tree_peak = psutil.Process(proc.pid), 0
while True:  # wait4, not Popen.wait: its rusage is the import's own (and its workers')
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    if pid:
        break
    try:
        tree_peak = max(tree_peak, sum(p.memory_info().rss
                                       for p in (root, *root.children(recursive=True))))
    except psutil.Error:
        pass
    time.sleep(0.05)
print(json.dumps({"status": os.waitstatus_to_exitcode(status),
                  "maxrss": usage.ru_maxrss * 1024, "tree_peak": tree_peak}))
"""


def run_import(path: Path) -> tuple[float, int, int, str]:
    """(seconds, peak RSS of the importing process, peak RSS of it and its workers
    together, output) of one import, in its own process. The first is the kernel's
    high-water mark (``wait4``'s ``ru_maxrss``, which also covers each worker alone); the
    second is sampled every 50 ms."""
    command = [
        sys.executable,
        "-m",
        "recsysctl",
        "import",
        "history",
        "lastfm",
        str(path),
        "--no-progress",
    ]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, *command],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seconds = time.perf_counter() - started
    output, _, last = done.stdout.rstrip().rpartition("\n")
    measured = json.loads(last)
    if measured["status"] != 0:
        raise SystemExit(f"the import failed:\n{output}")
    return seconds, measured["maxrss"], max(measured["tree_peak"], measured["maxrss"]), output


def lake_event_ids(lake_uri: str) -> tuple[int, int]:
    """(rows, distinct event ids) of the imported dataset."""
    files = sorted(Path(imported_events_path(lake_uri)).glob("date=*/*.parquet"))
    ids = pa.chunked_array(
        [pq.read_table(f, columns=["event_id"])["event_id"] for f in files], pa.string()
    )
    return len(ids), pc.count_distinct(ids).as_py()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench import")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--keep", help="write the generated files here and keep them")
    args = parser.parse_args(argv)
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bench-import-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    with throwaway_stack("default") as (settings, world):
        artists, titles = catalog_tracks(world)
        for size in args.sizes:
            path = folder / f"lastfm-{size}.tsv"
            print(f"generating {path.name} ...", flush=True)
            rows, distinct = write_history(path, size, artists, titles)
            print(
                f"  {rows:,} lines, {path.stat().st_size / 1e6:,.0f} MB, {distinct:,} distinct"
                " listens of catalog tracks",
                flush=True,
            )
            base_s = baseline(path, folder / f"baseline-{size}.parquet")
            import_s, peak, tree_peak, output = run_import(path)
            lake_rows, lake_ids = lake_event_ids(settings.lake_uri)
            results[size] = (rows, base_s, import_s, peak, tree_peak, lake_rows, lake_ids, distinct)
            _print_one(size, results[size], output)
            _clear_lake(settings.lake_uri)
            if not args.keep:
                path.unlink()
                (folder / f"baseline-{size}.parquet").unlink()
        _print_memory(results)


def _print_one(size: int, result: tuple, output: str) -> None:
    rows, base_s, import_s, peak, tree_peak, lake_rows, lake_ids, distinct = result
    base_rate, import_rate = rows / base_s, rows / import_s
    ratio = import_rate / base_rate
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    exact = "EXACT" if lake_rows == lake_ids == distinct else "NOT EXACT"
    print(output.rstrip())
    print(f"  baseline: pyarrow read + write  {base_rate:>12,.0f} rows/s ({base_s:.1f} s)")
    print(f"  import: end to end, its own process {import_rate:>12,.0f} rows/s ({import_s:.1f} s)")
    print(f"  ratio {ratio:.2f}x (target >= {TARGET_RATIO}x): {verdict}")
    print(
        f"  peak RSS: importing process {peak / 2**20:,.0f} MiB, with its workers"
        f" {tree_peak / 2**20:,.0f} MiB"
    )
    print(f"  lake: {lake_rows:,} rows, {lake_ids:,} distinct event ids; the file:")
    print(f"        {distinct:,} distinct listens of catalog tracks: {exact}", flush=True)


def _print_memory(results: dict) -> None:
    if len(results) < 2:
        return
    small, large = min(results), max(results)
    print()
    for label, at in (("importing process", 3), ("with its workers", 4)):
        low, high = results[small][at], results[large][at]
        growth = high / low - 1
        verdict = "PASS" if abs(growth) <= MEMORY_TOLERANCE else "FAIL"
        print(
            f"peak RSS, {label}: {small:,} rows {low / 2**20:,.0f} MiB, {large:,} rows"
            f" {high / 2**20:,.0f} MiB ({growth:+.0%}; target within"
            f" {MEMORY_TOLERANCE:.0%}): {verdict}",
            flush=True,
        )


def _clear_lake(lake_uri: str) -> None:
    import shutil

    shutil.rmtree(imported_events_path(lake_uri), ignore_errors=True)
