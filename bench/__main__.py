"""``python -m bench [NAME ...] [OPTIONS]``: run every benchmark but the soak (30 minutes) and
the real-size ALS check (als_scale), or the named ones; options go to the benchmark when one
is named (``python -m bench serving --seconds 20``)."""

import sys

from bench import (
    als,
    als_scale,
    embeddings,
    history_import,
    hnsw,
    ingest,
    mixes,
    pipeline,
    serving,
    similar,
    soak,
    validation,
)

BENCHMARKS = {
    "ingest": ingest.main,
    "validation": validation.main,
    "pipeline": pipeline.main,
    "hnsw": hnsw.main,
    "embeddings": embeddings.main,
    "als": als.main,
    "als_scale": als_scale.main,
    "serving": serving.main,
    "similar": similar.main,
    "soak": soak.main,
    "import": history_import.main,
    "mixes": mixes.main,
}
ONLY_WHEN_NAMED = {"soak", "als_scale"}

names = [a for a in sys.argv[1:] if a in BENCHMARKS] or [
    name for name in BENCHMARKS if name not in ONLY_WHEN_NAMED
]
# options after a single benchmark's name are its own: python -m bench serving --seconds 20
options = [a for a in sys.argv[1:] if a not in BENCHMARKS] if len(names) == 1 else []
for name in names:
    print(f"\n=== {name}: {sys.modules[BENCHMARKS[name].__module__].__doc__.splitlines()[0]}")
    BENCHMARKS[name](options)
