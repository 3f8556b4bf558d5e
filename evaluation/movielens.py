"""MovieLens-100K, the standard benchmark with published numbers, and its per-user split.

The data set travels inside the ``recbole`` wheel, so it comes from the same package index
as the project's requirements: the wheel is fetched once with pip, the ratings file is
extracted into ``<cache_dir>/movielens/ml-100k.inter`` and read from there on.

Reads:  the cached ratings file (or, the first time, the recbole wheel through pip).
Writes: the cached ratings file, atomically.

The split is the one of Microsoft Recommenders' benchmark (``python_stratified_split``):
each user's ratings are shuffled with a seed, and the first ``ratio`` of them (the ranks r of
that user's n ratings with r / n <= ratio, so ``floor(ratio * n)``) go to training, the rest
to test. Every user with two ratings or more is in both halves; ML-100K users have 20 or more.

Example
-------
>>> from evaluation import movielens
>>> from recsys.settings import load_settings
>>> ratings = movielens.load_ratings(load_settings().cache_dir)  # doctest: +SKIP
>>> train, test = movielens.stratified_split(ratings, ratio=0.75, seed=42)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

RECBOLE_VERSION = "1.2.1"
WHEEL_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.inter"
COLUMNS = {
    "user_id:token": "user_id",
    "item_id:token": "item_id",
    "rating:float": "rating",
    "timestamp:float": "timestamp",
}


def ratings_path(cache_dir: str | Path) -> Path:
    return Path(cache_dir) / "movielens" / "ml-100k.inter"


def fetch_ratings(cache_dir: str | Path) -> Path:
    """The cached ratings file, extracted from the recbole wheel first when it is missing."""
    target = ratings_path(cache_dir)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="recbole-") as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             f"recbole=={RECBOLE_VERSION}", "-d", tmp],
            check=True,
        )  # fmt: skip
        wheels = list(Path(tmp).glob("recbole-*.whl"))
        if len(wheels) != 1:
            raise RuntimeError(f"pip download left {wheels!r} in {tmp}, expected one wheel")
        # Written beside the target, then renamed: a concurrent reader never sees half a file.
        fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".ml-100k-", suffix=".part")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel, os.fdopen(fd, "wb") as out:
                out.write(wheel.read(WHEEL_MEMBER))
            os.chmod(partial, 0o644)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    return target


def read_ratings(path: str | Path) -> pd.DataFrame:
    """(user_id, item_id, rating, timestamp) of a recbole ``.inter`` file; ids stay strings
    (they are tokens), ratings are floats."""
    frame = pd.read_csv(
        path,
        sep="\t",
        dtype={"user_id:token": str, "item_id:token": str, "rating:float": float,
               "timestamp:float": float},
    )  # fmt: skip
    missing = set(COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: not a ratings file, columns {sorted(missing)} are missing")
    return frame.rename(columns=COLUMNS)[list(COLUMNS.values())]


def load_ratings(cache_dir: str | Path) -> pd.DataFrame:
    """MovieLens-100K's 100,000 ratings (943 users, 1,682 movies), fetched once."""
    return read_ratings(fetch_ratings(cache_dir))


def stratified_split(
    ratings: pd.DataFrame, ratio: float = 0.75, seed: int = 42, by: str = "user_id"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test): per value of ``by``, its rows in a seeded random order, the first
    ``floor(ratio * n)`` to train and the rest to test. Rows keep their index, so the two
    halves partition ``ratings``; the same frame and seed give the same halves."""
    if not 0 < ratio < 1:
        raise ValueError(f"ratio must be between 0 and 1, not {ratio}")
    draw = np.random.default_rng(seed).random(len(ratings))
    order = pd.DataFrame({"group": ratings[by].to_numpy(), "draw": draw}, index=ratings.index)
    order = order.sort_values(["group", "draw"], kind="stable")
    position = order.groupby("group", sort=False).cumcount().to_numpy() + 1
    size = order.groupby("group", sort=False)["group"].transform("size").to_numpy()
    # The comparison Recommenders makes (rank / count <= ratio), not round(ratio * n).
    in_train = pd.Series(position / size <= ratio, index=order.index).reindex(ratings.index)
    return ratings[in_train.to_numpy()], ratings[~in_train.to_numpy()]
