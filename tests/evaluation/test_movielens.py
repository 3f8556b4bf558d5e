"""MovieLens-100K: the per-user split on hand-made ratings, the ratings file's parsing, and
(integration) the project's Spark ALS reaching the target NDCG@10 on the real data."""

from __future__ import annotations

import pandas as pd
import pytest

from evaluation import movielens

# users with 1, 2, 4, 5 and 8 ratings: floor(0.75 n) of each go to training
COUNTS = {"u1": 1, "u2": 2, "u4": 4, "u5": 5, "u8": 8}
EXPECTED_TRAIN = {"u1": 0, "u2": 1, "u4": 3, "u5": 3, "u8": 6}


def hand_made_ratings() -> pd.DataFrame:
    rows = [
        (user, f"m{i}", float(1 + i % 5), 880_000_000.0 + i)
        for user, n in COUNTS.items()
        for i in range(n)
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return frame.sample(frac=1.0, random_state=3)  # users interleaved, index scrambled


def test_each_user_keeps_floor_three_quarters_in_training():
    ratings = hand_made_ratings()

    train, test = movielens.stratified_split(ratings, ratio=0.75, seed=1)

    assert train.groupby("user_id").size().reindex(list(COUNTS), fill_value=0).to_dict() == (
        EXPECTED_TRAIN
    )
    assert test.groupby("user_id").size().to_dict() == {
        user: COUNTS[user] - EXPECTED_TRAIN[user] for user in COUNTS
    }


def test_the_halves_partition_the_ratings():
    ratings = hand_made_ratings()

    train, test = movielens.stratified_split(ratings, ratio=0.75, seed=1)

    assert set(train.index).isdisjoint(test.index)
    assert sorted([*train.index, *test.index]) == sorted(ratings.index)
    pairs = pd.concat([train, test])[["user_id", "item_id"]]
    assert not pairs.duplicated().any()
    assert pd.concat([train, test]).loc[ratings.index].equals(ratings)


def test_the_same_seed_gives_the_same_split_and_another_seed_another():
    ratings = hand_made_ratings()

    first, _ = movielens.stratified_split(ratings, seed=5)
    again, _ = movielens.stratified_split(ratings, seed=5)
    others = [set(movielens.stratified_split(ratings, seed=s)[0].index) for s in range(6, 12)]

    assert first.equals(again)
    assert any(other != set(first.index) for other in others)


def test_a_ratio_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="ratio"):
        movielens.stratified_split(hand_made_ratings(), ratio=1.0)


def test_read_ratings_parses_recbole_columns(tmp_path):
    path = tmp_path / "ml-100k.inter"
    path.write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "196\t242\t3\t881250949\n"
        "022\t377\t1\t878887116\n"
    )

    got = movielens.read_ratings(path)

    assert list(got.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert got["user_id"].tolist() == ["196", "022"]  # tokens: leading zeros kept
    assert got["rating"].tolist() == [3.0, 1.0]


def test_read_ratings_refuses_another_file(tmp_path):
    path = tmp_path / "other.tsv"
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="not a ratings file"):
        movielens.read_ratings(path)


@pytest.mark.integration
def test_the_chosen_spark_als_reaches_the_target_on_movielens(spark, settings):
    from evaluation import als_movielens as evaluation

    ratings = movielens.load_ratings(settings.cache_dir)
    assert len(ratings) == 100_000

    chosen, model, popularity = evaluation.evaluate(
        spark, ratings, evaluation.CHOSEN, blocks=2, out=lambda line: None
    )

    assert chosen == evaluation.CHOSEN
    assert model.users == 943  # every user has test ratings
    assert popularity.ndcg == pytest.approx(0.248, abs=0.005)  # as the issue measured it
    assert model.ndcg >= evaluation.TARGET_NDCG, model
