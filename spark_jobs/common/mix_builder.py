"""Listeners' nightly mixes from their heard songs and the model's vectors: pure numpy,
run by the daily_mixes job inside Spark tasks (and by the tests on tiny catalogs).
``build_many`` builds a batch of listeners, the catalog scored for all of them in one
matrix product; ``build_mixes`` one listener. A listener gets the same mixes in any batch.

- **Daily mixes**, one per taste cluster: the listener's liked songs (played, not
  disliked, still served) are clustered by the direction of their ALS item vectors
  (spherical k-means, k-means++ seeding), as many clusters as mixes allow and at least
  ``MIN_CLUSTER_SONGS`` songs each. A cluster's mix is half its familiar songs (drawn by
  how often each was played) and half its near neighbours (songs the listener never heard
  with the largest inner product with the cluster's weighted centre), interleaved.
- **Discovery**: songs the listener never heard with the largest inner product with their
  user vector (or, for a listener the model does not know, with all their liked songs'
  centre), none already in a daily mix.

No mix holds a song twice, a disliked or unservable song, or more than
``MAX_PER_ARTIST`` songs of one artist among its new songs (while the catalog has enough
others); a mix the catalog cannot fill to ``MIN_MIX_SIZE`` songs is not built. Every
random draw comes from a generator seeded by (listener, mix day), and every ranking breaks
ties by catalog order, so the same inputs give the same mixes on every run; each day's
mixes differ from the last.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np

MIN_CLUSTER_SONGS = 5
# A mix the catalog cannot fill to this many songs is not built.
MIN_MIX_SIZE = 25
MAX_PER_ARTIST = 3
KMEANS_ITERATIONS = 15
COVER_IMAGES = 4


@dataclass(frozen=True)
class Catalog:
    """The model's items in index order, with what titles and covers need."""

    vectors: np.ndarray  # (items, rank) float32
    servable: np.ndarray  # bool per item: in the catalog, not taken down
    artist: np.ndarray  # int code per item
    genre: list[str]
    image_url: list[str | None]


@dataclass(frozen=True)
class Mix:
    kind: str
    title: str
    cover_urls: list[str]
    items: list[int]


def listener_seed(user_id: str, day: str) -> int:
    """A stable 64-bit seed of (listener, mix day): the same on every machine and run."""
    return int.from_bytes(hashlib.sha256(f"{user_id}|{day}".encode()).digest()[:8], "big")


def _spherical_kmeans(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster label per row of ``x`` (unit rows): k-means++ seeds, then Lloyd's steps on
    cosine similarity; a cluster left empty keeps its centre."""
    n = len(x)
    centres = [x[rng.integers(n)]]
    for _ in range(1, k):
        distance = np.clip(1.0 - np.max(x @ np.stack(centres).T, axis=1), 0.0, None)
        total = distance.sum()
        pick = rng.integers(n) if total <= 0 else rng.choice(n, p=distance / total)
        centres.append(x[pick])
    c = np.stack(centres)
    labels = None
    for _ in range(KMEANS_ITERATIONS):
        previous, labels = labels, np.argmax(x @ c.T, axis=1)
        if previous is not None and np.array_equal(labels, previous):
            break  # converged: the same labels give the same centres from here on
        sums = (labels == np.arange(k)[:, None]).astype(x.dtype) @ x  # k x rank
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        c = np.where(norms > 0, sums / np.where(norms > 0, norms, 1.0), c)
    return labels


def _capped(order: np.ndarray, artists: np.ndarray, n: int) -> list[int]:
    """The first ``n`` items of ``order`` (with their ``artists``), at most MAX_PER_ARTIST
    per artist."""
    chosen: list[int] = []
    counts: dict[int, int] = {}
    for item, artist in zip(order.tolist(), artists.tolist(), strict=True):
        seen = counts.get(artist, 0)
        if seen < MAX_PER_ARTIST:
            counts[artist] = seen + 1
            chosen.append(item)
            if len(chosen) == n:
                break
    return chosen


def _ranked(scores: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``order``'s items (catalog indexes, in any order) by score, best first, ties in
    catalog order."""
    order = np.sort(order)
    return order[np.argsort(-scores[order], kind="stable")]


def _new_songs(
    scores: np.ndarray, ranked: np.ndarray, allowed: np.ndarray, catalog: Catalog, n: int
) -> list[int]:
    """The ``n`` best-scored allowed items, at most MAX_PER_ARTIST per artist while the
    catalog allows (then the best of the rest). ``ranked``: the best few items, best first
    (ties in catalog order), looked at first; the whole ranking when they fall short, or
    when the last one chosen ties with the least of them (a song left out of ``ranked`` may
    tie it and come first in catalog order): the same songs however many ``ranked`` holds."""
    if n <= 0:
        return []
    order = ranked[allowed[ranked]]
    chosen = _capped(order, catalog.artist[order], n)
    partial = len(ranked) < len(scores)
    if partial and (len(chosen) < n or scores[chosen[-1]] <= scores[ranked[-1]]):
        order = _ranked(scores, np.flatnonzero(allowed))
        chosen = _capped(order, catalog.artist[order], n)
    if len(chosen) < n:
        taken = set(chosen)
        chosen += [i for i in order.tolist() if i not in taken][: n - len(chosen)]
    return chosen


def _best(scores: np.ndarray, width: int) -> np.ndarray:
    """Per row of ``scores`` (queries x items), the indexes of its ``width`` largest, best
    first, ties in catalog order: queries x width."""
    n = scores.shape[1]
    if width >= n:
        top = np.tile(np.arange(n), (len(scores), 1))
    else:
        top = np.sort(np.argpartition(scores, n - width, axis=1)[:, n - width :], axis=1)
    best = -np.take_along_axis(scores, top, axis=1)
    by_score = np.argsort(best, axis=1)
    # ties keep catalog order: rows with equal scores sorted again, stably (slower, rare)
    ranked = np.take_along_axis(best, by_score, axis=1)
    tied = np.flatnonzero((ranked[:, 1:] == ranked[:, :-1]).any(axis=1))
    by_score[tied] = np.argsort(best[tied], axis=1, kind="stable")
    return np.take_along_axis(top, by_score, axis=1)


def _interleave(familiar: list[int], new: list[int]) -> list[int]:
    out: list[int] = []
    for i in range(max(len(familiar), len(new))):
        out += familiar[i : i + 1] + new[i : i + 1]
    return out


def _title(prefix: str, items: list[int], catalog: Catalog) -> str:
    counts = Counter(catalog.genre[i] for i in items)
    genres = sorted(counts, key=lambda g: (-counts[g], g))[:2]
    return f"{prefix}: {', '.join(genres)}" if genres else prefix


def _cover(items: list[int], catalog: Catalog) -> list[str]:
    """Image URLs of up to COVER_IMAGES of the songs, one per artist first, in mix order."""
    with_image = [i for i in items if catalog.image_url[i]]
    seen: set[int] = set()
    firsts = []
    for i in with_image:
        if int(catalog.artist[i]) not in seen:
            seen.add(int(catalog.artist[i]))
            firsts.append(i)
    rest = [i for i in with_image if i not in firsts]
    urls: list[str] = []
    for i in firsts + rest:
        if catalog.image_url[i] not in urls:
            urls.append(catalog.image_url[i])
        if len(urls) == COVER_IMAGES:
            break
    return urls


@dataclass(frozen=True)
class Taste:
    """What one listener's mixes are built from.

    ``heard``: item indexes the listener played or skipped; ``plays``: their plays (a liked
    song has at least one); ``disliked``: item indexes they disliked; ``user_vector``:
    theirs in the model, or None; ``seed``: their ``listener_seed`` for the mix day.
    """

    seed: int
    heard: np.ndarray
    plays: np.ndarray
    disliked: np.ndarray
    user_vector: np.ndarray | None


@dataclass
class _Plan:
    """A listener's mixes before the catalog is scored: their taste clusters, and a query
    vector per cluster (its play-weighted centre) and for discovery (their taste)."""

    taste: Taste
    rng: np.random.Generator
    fresh: np.ndarray  # never heard, servable, not disliked
    liked: np.ndarray
    weight: np.ndarray
    clusters: list[np.ndarray]
    queries: np.ndarray  # (clusters + 1, rank)


def _plan(taste: Taste, catalog: Catalog, mixes: int) -> _Plan | None:
    rng = np.random.default_rng(taste.seed)
    heard, plays = taste.heard, taste.plays
    banned = np.zeros(len(catalog.vectors), dtype=bool)
    banned[taste.disliked] = True
    fresh = catalog.servable & ~banned
    fresh[heard] = False
    keep = (plays > 0) & catalog.servable[heard] & ~banned[heard]
    liked, weight = heard[keep], plays[keep].astype(np.float64)
    if len(liked) == 0 and taste.user_vector is None:
        return None

    n_daily = min(mixes - 1, len(liked) // MIN_CLUSTER_SONGS)
    if n_daily == 0 and len(liked) and taste.user_vector is None:
        n_daily = 1 if mixes > 1 else 0
    clusters: list[np.ndarray] = []
    if n_daily:
        vectors = catalog.vectors[liked].astype(np.float64)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.where(norms > 0, norms, 1.0)
        labels = _spherical_kmeans(unit, n_daily, rng)
        clusters = [np.flatnonzero(labels == j) for j in range(n_daily)]
        clusters = [c for c in clusters if len(c)]
        clusters.sort(key=lambda c: (-weight[c].sum(), int(liked[c].min())))
    queries = [(weight[c, None] * catalog.vectors[liked[c]]).sum(axis=0) / weight[c].sum()
               for c in clusters]  # fmt: skip
    if taste.user_vector is not None:
        queries.append(taste.user_vector)
    else:
        queries.append((weight[:, None] * catalog.vectors[liked]).sum(axis=0) / weight.sum())
    return _Plan(taste, rng, fresh, liked, weight, clusters,
                 np.asarray(queries, dtype=catalog.vectors.dtype))  # fmt: skip


def _finish(plan: _Plan, scores: np.ndarray, top: np.ndarray, catalog: Catalog,
            mixes: int, size: int) -> list[Mix]:  # fmt: skip
    """The plan's mixes from its queries' ``scores`` (queries x items) and ``top`` (each
    query's best few items, best first: ``_best``)."""
    rng, liked, weight = plan.rng, plan.liked, plan.weight
    out: list[Mix] = []
    used = np.zeros(len(catalog.vectors), dtype=bool)
    for j, members in enumerate(plan.clusters):
        songs, w = liked[members], weight[members]
        n_familiar = min(len(songs), size // 2)
        # drawn without replacement, each by its plays: the n largest of u ** (1 / plays)
        # (Efraimidis and Spirakis), compared as log(u) / plays
        keys = np.log(rng.random(len(songs))) / w
        familiar = songs[np.argsort(-keys, kind="stable")[:n_familiar]].tolist()
        new = _new_songs(scores[j], top[j], plan.fresh & ~used, catalog, size - n_familiar)
        items = _interleave(familiar, new)
        if len(items) < MIN_MIX_SIZE:
            continue
        used[items] = True
        title = _title(f"Daily Mix {len(out) + 1}", familiar or items, catalog)
        out.append(Mix("daily", title, _cover(items, catalog), items))

    if len(out) < mixes:
        items = _new_songs(scores[-1], top[-1], plan.fresh & ~used, catalog, size)
        if len(items) >= MIN_MIX_SIZE:
            out.append(Mix("discovery", _title("Discovery", items, catalog),
                           _cover(items, catalog), items))  # fmt: skip
    return out


# What a batch's scores may take: up to ``mixes`` queries a listener, each a float32 score
# and (in the partial sort) an int64 index per song.
BATCH_BYTES = 64 * 2**20
MAX_BATCH = 32


def listeners_per_batch(items: int, mixes: int) -> int:
    """How many listeners ``build_many`` should get at once: MAX_BATCH on the demo's 20,000
    songs, fewer on a larger catalog (one on a million songs), so a batch's scores stay
    within BATCH_BYTES."""
    return max(1, min(MAX_BATCH, BATCH_BYTES // max(1, mixes * items * 12)))


def build_many(tastes: list[Taste], catalog: Catalog, mixes: int, size: int) -> list[list[Mix]]:
    """Each listener's mixes (``build_mixes``), the catalog scored for all of them in one
    matrix product: pass ``listeners_per_batch`` listeners at a time."""
    plans = [_plan(t, catalog, mixes) for t in tastes]
    kept = [p for p in plans if p is not None]
    if not kept:
        return [[] for _ in tastes]
    scores = np.concatenate([p.queries for p in kept]) @ catalog.vectors.T
    # the best few per query: the listener's heard songs and earlier mixes may take some
    width = max(8 * size + len(p.taste.heard) + len(p.taste.disliked) + mixes * size
                for p in kept)  # fmt: skip
    top = _best(scores, width)
    out, row = [], 0
    for plan in plans:
        if plan is None:
            out.append([])
            continue
        rows = slice(row, row + len(plan.queries))
        out.append(_finish(plan, scores[rows], top[rows], catalog, mixes, size))
        row = rows.stop
    return out


def build_mixes(
    seed: int,
    heard: np.ndarray,
    plays: np.ndarray,
    disliked: np.ndarray,
    user_vector: np.ndarray | None,
    catalog: Catalog,
    mixes: int,
    size: int,
) -> list[Mix]:
    """A listener's mixes: daily mixes (by cluster size) then discovery, at most ``mixes``
    (``Taste`` says what the arguments are)."""
    return build_many([Taste(seed, heard, plays, disliked, user_vector)], catalog, mixes, size)[0]
