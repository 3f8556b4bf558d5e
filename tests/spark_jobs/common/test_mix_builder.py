"""mix_builder: one listener's mixes on tiny hand-made catalogs whose taste clusters are
known: a cluster's mix keeps to its cluster, discovery never repeats a heard song, nothing
disliked or unservable, seeded."""

import numpy as np

from spark_jobs.common.mix_builder import (
    COVER_IMAGES,
    MAX_PER_ARTIST,
    Catalog,
    Taste,
    build_many,
    build_mixes,
    listener_seed,
    listeners_per_batch,
)

RANK = 8
PER_GENRE = 60  # songs of each of three genres, in blocks of 60


def catalog(images=True, servable=None) -> Catalog:
    """Three genres whose vectors point three ways (plus a little noise); 30 artists, each
    of one genre."""
    rng = np.random.default_rng(3)
    axes = np.eye(RANK)[:3]
    vectors = np.concatenate(
        [axes[g] + 0.05 * rng.standard_normal((PER_GENRE, RANK)) for g in range(3)]
    ).astype(np.float32)
    n = len(vectors)
    genres = ["rock"] * PER_GENRE + ["jazz"] * PER_GENRE + ["folk"] * PER_GENRE
    return Catalog(
        vectors=vectors,
        servable=np.ones(n, dtype=bool) if servable is None else servable,
        artist=np.arange(n) // 6,  # 10 artists per genre
        genre=genres,
        image_url=[f"https://img.example/{i}.jpg" if images and i % 2 else None for i in range(n)],
    )


def listener(cat, rock=20, jazz=20):
    """Heard: ``rock`` rock songs and ``jazz`` jazz songs (played 1..3 times), no folk."""
    heard = np.concatenate([np.arange(rock), PER_GENRE + np.arange(jazz)])
    plays = 1 + heard % 3
    return heard, plays


def test_a_daily_mix_per_taste_cluster_and_a_discovery_of_unheard_songs():
    cat = catalog()
    heard, plays = listener(cat)
    mixes = build_mixes(listener_seed("u1", "2026-11-20"), heard, plays,
                        np.array([], dtype=np.int64), None, cat, mixes=3, size=30)  # fmt: skip
    assert [m.kind for m in mixes] == ["daily", "daily", "discovery"]
    for mix in mixes:
        assert len(mix.items) == 30
        assert len(set(mix.items)) == 30, "a song twice in a mix"
        assert 1 <= len(mix.cover_urls) <= COVER_IMAGES
        assert all(u in cat.image_url for u in mix.cover_urls)
    genres = [{cat.genre[i] for i in m.items if i in set(heard)} for m in mixes[:2]]
    assert sorted(map(tuple, genres)) == [("jazz",), ("rock",)], "a cluster mixes tastes"
    assert {m.title for m in mixes[:2]} == {"Daily Mix 1: rock", "Daily Mix 2: jazz"} or {
        m.title for m in mixes[:2]
    } == {"Daily Mix 1: jazz", "Daily Mix 2: rock"}
    for mix in mixes[:2]:
        familiar = [i for i in mix.items if i in set(heard)]
        assert len(familiar) == 15
        new = [i for i in mix.items if i not in set(heard)]
        genre = cat.genre[familiar[0]]
        # the neighbours of a cluster are its genre's songs the listener never heard
        assert all(cat.genre[i] == genre for i in new)
    discovery = mixes[2]
    assert not set(discovery.items) & set(heard)
    assert not set(discovery.items) & (set(mixes[0].items) | set(mixes[1].items))
    assert discovery.title.startswith("Discovery: ")
    artists = np.bincount(cat.artist[discovery.items])
    assert artists.max() <= MAX_PER_ARTIST


def test_the_same_seed_gives_the_same_mixes_and_another_day_others():
    cat = catalog()
    heard, plays = listener(cat)
    none = np.array([], dtype=np.int64)

    def build(day):
        return build_mixes(listener_seed("u1", day), heard, plays, none, None, cat, 3, 30)

    assert build("2026-11-20") == build("2026-11-20")
    assert build("2026-11-20") != build("2026-11-21")


def test_never_a_disliked_or_unservable_song():
    servable = np.ones(3 * PER_GENRE, dtype=bool)
    servable[PER_GENRE + 30 : PER_GENRE + 40] = False  # jazz songs taken down
    servable[5] = False  # a heard rock song taken down
    cat = catalog(servable=servable)
    heard, plays = listener(cat)
    disliked = np.array([3, 7, PER_GENRE + 25, 2 * PER_GENRE + 1])  # heard and unheard
    user_vector = cat.vectors[2 * PER_GENRE : 2 * PER_GENRE + 5].mean(axis=0)  # folk
    mixes = build_mixes(7, heard, plays, disliked, user_vector, cat, 4, 25)
    assert mixes
    for mix in mixes:
        assert not set(mix.items) & set(disliked.tolist())
        assert all(servable[mix.items])


def test_a_listener_with_no_liked_song_and_no_vector_gets_nothing():
    cat = catalog()
    heard = np.arange(10)
    assert build_mixes(1, heard, np.zeros(10, dtype=np.int64), np.array([], dtype=np.int64),
                       None, cat, 4, 30) == []  # fmt: skip


def test_a_mix_the_catalog_cannot_fill_is_not_built():
    heard = np.arange(20)
    plays = np.ones(20, dtype=np.int64)
    none = np.array([], dtype=np.int64)
    for unheard, built in ((24, 0), (25, 1)):
        servable = np.zeros(3 * PER_GENRE, dtype=bool)
        servable[: 20 + unheard] = True
        cat = catalog(servable=servable)
        mixes = build_mixes(1, heard, plays, none, None, cat, mixes=1, size=30)
        assert len(mixes) == built
        assert all(m.kind == "discovery" and len(m.items) == unheard for m in mixes)


def test_familiar_songs_are_drawn_by_their_plays():
    """One taste cluster of 40 rock songs: the song played 50 times is in nearly every
    day's familiar half, a song played once in about 14 of 39 (15 drawn, one of them the
    favourite)."""
    cat = catalog()
    heard = np.arange(40)
    plays = np.ones(40, dtype=np.int64)
    plays[7] = 50
    none = np.array([], dtype=np.int64)
    days = [f"2026-11-{d:02d}" for d in range(1, 31)] + [f"2026-12-{d:02d}" for d in range(1, 31)]
    drawn = []
    for day in days:
        daily = build_mixes(listener_seed("u1", day), heard, plays, none, None, cat, 2, 30)[0]
        drawn.append({i for i in daily.items if i < 40})
    assert all(len(d) == 15 for d in drawn)
    assert sum(7 in d for d in drawn) >= 0.95 * len(days)
    once = [sum(i in d for d in drawn) / len(days) for i in range(40) if i != 7]
    assert 0.25 < np.mean(once) < 0.47


def test_listeners_built_together_get_what_each_gets_alone():
    """Equal scores included: 600 folk songs share one vector, so discovery takes them in
    catalog order, however many best songs a batch looks at first (more for a listener who
    heard more) and however the partial sort left the tied ones."""
    rng = np.random.default_rng(5)
    rock, folk = np.eye(RANK)[0], np.eye(RANK)[2]
    vectors = np.concatenate(
        [rock + 0.05 * rng.standard_normal((400, RANK)), np.tile(folk, (600, 1))]
    ).astype(np.float32)
    n = len(vectors)
    cat = Catalog(vectors, np.ones(n, dtype=bool), np.arange(n) // 6,
                  ["rock"] * 400 + ["folk"] * 600, [None] * n)  # fmt: skip
    none = np.array([], dtype=np.int64)
    tastes = [
        Taste(listener_seed(f"u{k}", "2026-11-20"), heard, 1 + heard % 3, none, folk)
        for k, heard in enumerate([np.arange(5), np.arange(300), np.arange(12)])
    ]
    together = build_many(tastes, cat, 3, 25)
    alone = [build_mixes(t.seed, t.heard, t.plays, t.disliked, t.user_vector, cat, 3, 25)
             for t in tastes]  # fmt: skip
    assert together == alone
    # folk songs in catalog order, at most three of each artist (six songs each; the
    # first folk artist's first four songs are rock: 400 and 401 are its only folk ones)
    expected = [400, 401] + [i for i in range(402, n) if (i - 402) % 6 < 3][:23]
    for mixes in together:
        assert mixes[-1].kind == "discovery"
        assert mixes[-1].items == expected


def test_batches_shrink_on_a_larger_catalog():
    assert listeners_per_batch(20_000, 4) == 32
    assert listeners_per_batch(200_000, 4) == 6  # 64 MiB / (4 x 200,000 x 12 bytes)
    assert listeners_per_batch(1_000_000, 4) == 1
    assert listeners_per_batch(50_000_000, 4) == 1
