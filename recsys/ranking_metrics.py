"""Offline ranking metrics and top-K retrieval on factor matrices, in plain numpy.

One implementation serves the training gate, the MovieLens evaluation and the benchmarks, so
their numbers are comparable. Relevance is binary. For a user with relevant set R and
recommended list L (top K, seen items removed):

- precision@K = |L ∩ R| / K
- recall@K    = |L ∩ R| / |R|
- NDCG@K      = DCG / IDCG, DCG = sum over hits at rank i (1-based) of 1 / log2(i + 1),
                IDCG the DCG of min(|R|, K) hits at the top
- MAP@K       = (sum over hits at rank i of precision@i) / min(|R|, K)
- coverage    = distinct items recommended to anyone / items in the catalogue

Each per-user metric is averaged over users with at least one relevant item.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class RankingMetrics:
    k: int
    users: int
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate(recommended: np.ndarray, relevant: list[set[int]], k: int, n_items: int):
    """Metrics of ``recommended`` (users x K item indices, -1 for none) against ``relevant``
    (one set of item indices per row). Users with no relevant item are left out."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    precision, recall, ndcg, ap = [], [], [], []
    for row, rel in zip(recommended[:, :k], relevant, strict=True):
        if not rel:
            continue
        hits = np.fromiter((item in rel for item in row), dtype=bool, count=len(row))
        n_hits = int(hits.sum())
        precision.append(n_hits / k)
        recall.append(n_hits / len(rel))
        ndcg.append(float(discounts[: len(row)][hits].sum() / discounts[: min(len(rel), k)].sum()))
        ranks = np.flatnonzero(hits) + 1
        ap.append(float((np.arange(1, n_hits + 1) / ranks).sum() / min(len(rel), k)))
    shown = recommended[:, :k]
    coverage = len(np.unique(shown[shown >= 0])) / n_items if n_items else 0.0

    def mean(values):
        return float(np.mean(values)) if values else 0.0

    return RankingMetrics(
        k, len(precision), mean(precision), mean(recall), mean(ndcg), mean(ap), coverage
    )


def top_k(
    user_vectors: np.ndarray,
    item_vectors: np.ndarray,
    k: int,
    exclude: sp.csr_matrix | None = None,
    chunk: int = 2048,
) -> np.ndarray:
    """For each user vector, the ``k`` items of highest inner product, best first, skipping
    the items marked in that user's row of ``exclude`` (users x items). Rows of -1 pad users
    with fewer than ``k`` candidates."""
    n_users, n_items = len(user_vectors), len(item_vectors)
    k_eff = min(k, n_items)
    out = np.full((n_users, k), -1, dtype=np.int64)
    for lo in range(0, n_users, chunk):
        hi = min(lo + chunk, n_users)
        scores = user_vectors[lo:hi] @ item_vectors.T
        if exclude is not None:
            block = exclude[lo:hi].tocoo()
            scores[block.row, block.col] = -np.inf
        best = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
        picked = np.take_along_axis(scores, best, axis=1)
        order = np.argsort(-picked, axis=1, kind="stable")
        best = np.take_along_axis(best, order, axis=1)
        best[np.take_along_axis(picked, order, axis=1) == -np.inf] = -1
        out[lo:hi, :k_eff] = best
    return out


def popularity_top_k(item_popularity: np.ndarray, n_users: int, k: int, exclude: sp.csr_matrix):
    """Each user's ``k`` most popular items among those not excluded for them."""
    return top_k(np.ones((n_users, 1)), item_popularity.reshape(-1, 1).astype(float), k, exclude)
