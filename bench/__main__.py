"""``python -m bench [ingest|pipeline ...]``: run every benchmark, or the named ones."""

import sys

from bench import als, embeddings, hnsw, ingest, pipeline, serving

BENCHMARKS = {
    "ingest": ingest.main,
    "pipeline": pipeline.main,
    "hnsw": hnsw.main,
    "embeddings": embeddings.main,
    "als": als.main,
    "serving": serving.main,
}

names = [a for a in sys.argv[1:] if a in BENCHMARKS] or list(BENCHMARKS)
for name in names:
    print(f"\n=== {name}: {sys.modules[BENCHMARKS[name].__module__].__doc__.splitlines()[0]}")
    BENCHMARKS[name]([])
