"""Playlist continuation measured as the Million Playlist Dataset challenge measures it.

Protocol (RecSys Challenge 2018, track level):

- Playlists come from MPD slice files (``--mpd mpd.slice.*.json``, read by
  ``recsys.importers.mpd``; a track is its ``track_uri``, its artist its ``artist_uri``; the
  dataset has no lyrics) or, by default, from the demo world's generated set
  (``recsysctl.demo.playlists``, written as a slice and read back the same way; its songs'
  lyrics embedded with the project's lyrics model unless ``--no-lyrics``).
- Test playlists, drawn with a fixed seed, are split evenly between the categories
  "first 5" and "first 25" (``--seeds``): the playlist's first N tracks are given (its seeds),
  the rest held out; a test playlist has at least N + ``MIN_HELD_OUT`` tracks.
- Item vectors are trained on the playlist-track matrix of every other playlist plus the test
  playlists' seeds (a playlist is a "user", a track in it a positive with confidence
  ``1 + alpha``), with the ``implicit`` library's CPU ALS (the reference bench/als.py
  measures the project's Spark ALS against; far faster on the real dataset's 2M tracks) at the
  project's ALS settings: ``als_rank``, ``als_reg_param``, ``als_alpha``, ``als_max_iter``
  (implicit does not scale the regularisation by each row's count as Spark does).
- Each test playlist gets ``K`` = 500 tracks from ``recsys.continuation.rank`` (the served
  formula) over candidates drawn as serving draws them: the ``--pool`` tracks nearest to the
  playlist's mean item vector and the ``--pool`` nearest to its mean lyrics vector. Rows:
  the blend at ``next_song_als_weight``, paged by 10 (the challenge's "recommended songs"
  page) with ``recs_max_per_artist`` per page, as served; the same uncapped; ALS alone
  (w = 1) and lyrics alone (w = 0) when there are lyrics. The baseline: the tracks in most
  training playlists, seeds left out.
- Metrics, averaged over the test playlists of a category (G: held-out tracks, R: the 500
  recommended):
  R-precision = |G ∩ R[:|G|]| / |G|;
  NDCG = DCG / IDCG, DCG = sum over i (1-based) of rel_i / log2(i + 1), IDCG the DCG of
  min(|G|, 500) hits at the top;
  clicks = floor((index of the first relevant track, 0-based) / 10), 51 when none of the 500
  is relevant (the "recommended songs" feature shows 10 at a time).

Reads: the slice files, or nothing (the demo set is generated in memory and a temporary file).
Writes: nothing; prints the table. A re-run with the same arguments prints the same numbers.

    python -m evaluation.playlist_continuation                      # demo world, generated
    python -m evaluation.playlist_continuation --mpd data/mpd/mpd.slice.*.json --tests 1000
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys.continuation import rank
from recsys.importers.listens import FileError, RowError
from recsys.importers.mpd import read_slice
from recsys.importers.reading import Source
from recsys.settings import Settings, load_settings

K = 500
PAGE = 10  # the challenge's "recommended songs" shows 10 tracks a click
NO_CLICK = K // PAGE + 1  # 51: no relevant track among the K
MIN_HELD_OUT = 5
SEEDS = (5, 25)
SPLIT_SEED = 42
ALS_SEED = 7


@dataclass
class PlaylistSet:
    """Playlists as lists of track keys (in order, each once), with each track's artist and,
    where known, its lyrics vector."""

    playlists: list[list[str]]
    artist: dict[str, str]
    lyrics: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class Case:
    category: int  # seeds given
    seeds: list[str]
    held_out: list[str]


@dataclass(frozen=True)
class Split:
    train: list[list[str]]  # every other playlist, and the test playlists' seeds
    cases: list[Case]


# -- playlists ----------------------------------------------------------------------------


def from_slices(paths: Sequence[str]) -> PlaylistSet:
    """The playlists of MPD slice files; a bad playlist or file raises ValueError naming
    them (nothing is measured on part of the data)."""
    playlists, artist, problems = [], {}, []
    shared: dict[str, str] = {}  # one string per track and artist: 66M tracks in the MPD
    for path in paths:
        try:
            with Source(str(path)) as source:
                for piece in read_slice(source):
                    if isinstance(piece, RowError):
                        problems.append(str(piece))
                        continue
                    keys = [shared.setdefault(t.track_uri, t.track_uri) for t in piece.tracks]
                    for t in piece.tracks:
                        if t.track_uri not in artist:
                            artist[shared[t.track_uri]] = shared.setdefault(
                                t.artist_uri, t.artist_uri
                            )
                    playlists.append(keys)
        except FileError as err:
            problems.append(str(err.error))
    if problems:
        shown = "\n".join(problems[:20])
        more = f"\n... {len(problems):,} problems in all" if len(problems) > 20 else ""
        raise ValueError(f"{shown}{more}")
    return PlaylistSet(playlists, artist, source=f"{len(paths)} slice file(s)")


def demo_set(size: str, count: int, seed: int, with_lyrics: bool) -> PlaylistSet:
    """The demo world's generated playlists, written as a slice and read back by the MPD
    reader; lyrics vectors by track URI from the project's lyrics model."""
    from recsysctl.demo import generate_world
    from recsysctl.demo.playlists import generate_slice, uri, write_slice

    world = generate_world(size, seed=seed)
    with tempfile.TemporaryDirectory(prefix="mpd-demo-") as folder:
        path = Path(folder) / f"mpd.slice.0-{count - 1}.json"
        write_slice(generate_slice(world, count, seed), path)
        out = from_slices([str(path)])
    out.source = f"demo world {size} (seed {seed}), {count} generated playlists"
    if with_lyrics:
        songs = [s for s in world.songs if s["lyrics"]]
        vectors = embed([s["lyrics"] for s in songs])
        out.lyrics = {uri("track", s["id"]): v for s, v in zip(songs, vectors, strict=True)}
    return out


def embed(texts: list[str]) -> np.ndarray:
    from recsys.embedding_model import load_model

    return load_model().encode(texts, batch_size=64, normalize_embeddings=True)


def split(data: PlaylistSet, tests: int, seeds: Sequence[int], seed: int = SPLIT_SEED) -> Split:
    """``tests`` test playlists (at most), evenly over the categories in ``seeds``, each with
    at least its seeds and MIN_HELD_OUT more tracks; the same seed, the same split."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.playlists)).tolist()
    per_category = tests // len(seeds)
    chosen: dict[int, int] = {}  # playlist -> seeds given
    wanted = dict.fromkeys(seeds, per_category)
    for i in order:
        n = len(data.playlists[i])
        for category in seeds:
            if wanted[category] and n >= category + MIN_HELD_OUT:
                chosen[i] = category
                wanted[category] -= 1
                break
        if not any(wanted.values()):
            break
    train, cases = [], []
    for i, tracks in enumerate(data.playlists):
        if i in chosen:
            n = chosen[i]
            cases.append(Case(n, tracks[:n], tracks[n:]))
            train.append(tracks[:n])
        else:
            train.append(tracks)
    return Split(train, cases)


# -- models --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemModel:
    keys: list[str]
    index: dict[str, int]
    factors: np.ndarray  # items x rank


class Rows(Mapping):
    """A factor matrix as the ``{song: vector}`` mapping ``rank`` takes, without a copy."""

    def __init__(self, index: dict[str, int], matrix: np.ndarray):
        self.index, self.matrix = index, matrix

    def __getitem__(self, key: str) -> np.ndarray:
        return self.matrix[self.index[key]]

    def __contains__(self, key) -> bool:
        return key in self.index

    def __iter__(self) -> Iterator[str]:
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)


def train_items(train: list[list[str]], settings: Settings, threads: int = 0) -> ItemModel:
    """Item vectors of the playlist-track matrix by ``implicit``'s ALS at the project's
    settings (confidence 1 + alpha for a track in a playlist)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    keys = sorted({t for playlist in train for t in playlist})
    index = {k: i for i, k in enumerate(keys)}
    rows = np.repeat(np.arange(len(train)), [len(p) for p in train])
    cols = np.fromiter((index[t] for p in train for t in p), dtype=np.int64, count=len(rows))
    confidence = np.full(len(rows), 1.0 + settings.als_alpha, dtype=np.float32)
    matrix = sp.csr_matrix((confidence, (rows, cols)), shape=(len(train), len(keys)))
    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(
            factors=settings.als_rank,
            regularization=settings.als_reg_param,
            alpha=1.0,  # the confidences already carry alpha
            iterations=settings.als_max_iter,
            num_threads=threads,
            random_state=ALS_SEED,
        )
        model.fit(matrix, show_progress=False)
    return ItemModel(keys, index, np.asarray(model.item_factors, dtype=np.float64))


def popularity(train: list[list[str]]) -> list[str]:
    """Tracks by the number of training playlists holding them, most first, ties by key."""
    counts = Counter(t for playlist in train for t in playlist)
    return sorted(counts, key=lambda t: (-counts[t], t))


# -- recommending -------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    name: str
    als_weight: float | None  # None: popularity
    max_per_artist: int | None = None


def methods(settings: Settings, with_lyrics: bool) -> list[Method]:
    w, cap = settings.next_song_als_weight, settings.recs_max_per_artist
    rows = [Method("popularity (baseline)", None)]
    if with_lyrics:
        rows.append(Method(f"continuation, w={w}, {cap}/artist per page of {PAGE}", w, cap))
        rows.append(Method(f"continuation, w={w}, no artist cap", w))
        rows.append(Method("continuation, ALS alone (w=1)", 1.0))
        rows.append(Method("continuation, lyrics alone (w=0)", 0.0))
    else:
        rows.append(Method(f"continuation (ALS), {cap}/artist per page of {PAGE}", 1.0, cap))
        rows.append(Method("continuation (ALS), no artist cap", 1.0))
    return rows


class Recommender:
    def __init__(self, data: PlaylistSet, model: ItemModel, popular: list[str], pool: int):
        self.data, self.model, self.popular, self.pool = data, model, popular, pool
        self.items = Rows(model.index, model.factors)
        self.lyric_keys = sorted(data.lyrics)
        self.lyric_units = None
        if self.lyric_keys:
            matrix = np.vstack([data.lyrics[k] for k in self.lyric_keys]).astype(np.float64)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            self.lyric_units = matrix / np.where(norms > 0, norms, 1.0)

    def candidates(self, seeds: list[str]) -> list[str]:
        """The ``pool`` tracks nearest the seeds' mean item vector and the ``pool`` nearest
        their mean lyrics vector (seeds left out), as serving's nearest-vector searches."""
        out: dict[str, None] = {}
        known = [self.model.index[s] for s in seeds if s in self.model.index]
        if known:
            query = self.model.factors[known].mean(axis=0)
            out.update(dict.fromkeys(self._top(self.model.factors @ query, self.model.keys, seeds)))
        with_lyrics = [self.data.lyrics[s] for s in seeds if s in self.data.lyrics]
        if with_lyrics and self.lyric_units is not None:
            query = np.mean([v / (np.linalg.norm(v) or 1.0) for v in with_lyrics], axis=0)
            out.update(dict.fromkeys(self._top(self.lyric_units @ query, self.lyric_keys, seeds)))
        return list(out)

    def _top(self, scores: np.ndarray, keys: list[str], seeds: list[str]) -> list[str]:
        n = min(self.pool + len(seeds), len(keys))
        top = np.argpartition(-scores, n - 1)[:n] if n < len(keys) else np.arange(len(keys))
        top = top[np.lexsort((top, -scores[top]))]
        seen = set(seeds)
        return [keys[i] for i in top if keys[i] not in seen][: self.pool]

    def recommend(self, case: Case, method: Method) -> list[str]:
        if method.als_weight is None:
            seen = set(case.seeds)
            return [t for t in self.popular[: K + len(seen)] if t not in seen][:K]
        suggestions = rank(
            case.seeds,
            self.candidates(case.seeds),
            self.items,
            self.data.lyrics,
            self.data.artist,
            K,
            als_weight=method.als_weight,
            max_per_artist=method.max_per_artist,
            page_size=PAGE,
        )
        return [s.song_id for s in suggestions]


# -- metrics -------------------------------------------------------------------------------


def r_precision(held_out: Sequence[str], recommended: Sequence[str]) -> float:
    relevant = set(held_out)
    return len(relevant & set(recommended[: len(relevant)])) / len(relevant)


def ndcg(held_out: Sequence[str], recommended: Sequence[str], k: int = K) -> float:
    relevant = set(held_out)
    gains = np.array([t in relevant for t in list(dict.fromkeys(recommended))[:k]], dtype=float)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = discounts[: min(len(relevant), k)].sum()
    return float((gains * discounts[: len(gains)]).sum() / ideal)


def clicks(held_out: Sequence[str], recommended: Sequence[str], k: int = K) -> int:
    relevant = set(held_out)
    for i, track in enumerate(recommended[:k]):
        if track in relevant:
            return i // PAGE
    return k // PAGE + 1


@dataclass(frozen=True)
class Scores:
    playlists: int
    r_precision: float
    ndcg: float
    clicks: float


def score(cases: list[Case], recommended: list[list[str]]) -> Scores:
    rp = [r_precision(c.held_out, r) for c, r in zip(cases, recommended, strict=True)]
    nd = [ndcg(c.held_out, r) for c, r in zip(cases, recommended, strict=True)]
    cl = [clicks(c.held_out, r) for c, r in zip(cases, recommended, strict=True)]
    mean = lambda xs: float(np.mean(xs)) if xs else math.nan  # noqa: E731
    return Scores(len(cases), mean(rp), mean(nd), mean(cl))


def evaluate(
    data: PlaylistSet,
    the_split: Split,
    settings: Settings,
    pool: int,
    threads: int = 0,
    model: ItemModel | None = None,
) -> dict[tuple[int, str], Scores]:
    """Scores per (category, method name); the item vectors trained on the split's training
    playlists unless ``model`` is given."""
    model = model or train_items(the_split.train, settings, threads)
    recommender = Recommender(data, model, popularity(the_split.train), pool)
    out = {}
    for method in methods(settings, bool(data.lyrics)):
        for category in sorted({c.category for c in the_split.cases}):
            cases = [c for c in the_split.cases if c.category == category]
            out[(category, method.name)] = score(
                cases, [recommender.recommend(c, method) for c in cases]
            )
    return out


def report_table(
    results: dict[tuple[int, str], Scores], data: PlaylistSet, the_split: Split
) -> str:
    head = f"{'category':<10} {'method':<48} {'R-prec':>7} {'NDCG':>7} {'clicks':>7} {'lists':>6}"
    lines = [head, "-" * len(head)]
    for (category, name), s in sorted(results.items(), key=lambda r: r[0][0]):
        lines.append(
            f"{'first ' + str(category):<10} {name:<48} {s.r_precision:7.4f} {s.ndcg:7.4f}"
            f" {s.clicks:7.2f} {s.playlists:6d}"
        )
    tracks = len({t for p in the_split.train for t in p})
    lines.append(
        f"{data.source}: {len(data.playlists):,} playlists, {tracks:,} tracks in training,"
        f" {len(the_split.cases)} test playlists; K={K}"
    )
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpd", nargs="+", metavar="SLICE", help="MPD slice files")
    parser.add_argument("--size", default="default", help="demo world: small, default, large")
    parser.add_argument("--count", type=int, default=2000, help="demo playlists generated")
    parser.add_argument("--seed", type=int, default=7, help="demo world and playlists")
    parser.add_argument("--no-lyrics", action="store_true", help="demo: no lyrics vectors")
    parser.add_argument("--tests", type=int, default=400, help="test playlists (all categories)")
    parser.add_argument(
        "--seeds", default=",".join(map(str, SEEDS)), help="categories: seed tracks given"
    )
    parser.add_argument("--pool", type=int, default=1000, help="candidates per nearest search")
    parser.add_argument("--threads", type=int, default=0, help="ALS threads (0: every core)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    settings = load_settings()
    try:
        if args.mpd:
            data = from_slices(args.mpd)
        else:
            data = demo_set(args.size, args.count, args.seed, not args.no_lyrics)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    the_split = split(data, args.tests, [int(s) for s in args.seeds.split(",")])
    results = evaluate(data, the_split, settings, args.pool, args.threads)
    print(report_table(results, data, the_split))
    print(f"took {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
