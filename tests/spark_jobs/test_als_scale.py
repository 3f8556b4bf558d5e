"""ALS at real size: the training job's ``train_als`` on a synthetic matrix of MovieLens-1M's
size at 20 iterations, rank 64, in a checkpoint folder it then removes (``bench.als_scale``
generates the matrix and times the fits). The training takes minutes on two cores: it runs
only by name, ``make test-slow``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bench import als_scale
from spark_jobs import als_training


def test_the_synthetic_matrix_has_movielens_1m_size_and_a_long_tail():
    frame = als_scale.synthetic_interactions()

    assert len(frame) == 1_000_000
    assert not frame.duplicated(["user", "item"]).any()
    assert (frame["user"].nunique(), frame["item"].nunique()) == (6_040, 3_706)
    assert frame["user"].value_counts().min() >= als_scale.MIN_PER_USER
    popularity = np.sort(frame["item"].value_counts().to_numpy())[::-1]
    assert 0.4 < popularity[0] / 6_040 < 0.8  # MovieLens-1M's most rated movie: 57%
    assert popularity[:371].sum() / len(frame) > 0.4  # the top tenth of the items
    assert frame.equals(als_scale.synthetic_interactions()), "a fixed seed"


@pytest.mark.integration
@pytest.mark.slow
def test_train_als_runs_20_iterations_at_rank_64_on_it(spark, settings, tmp_path):
    ratings = spark.createDataFrame(als_scale.synthetic_interactions()).cache()
    ratings.count()
    params = dataclasses.replace(
        als_training.AlsParams.from_settings(settings), rank=64, max_iter=20
    )
    folder = str(tmp_path / "checkpoints")

    run = als_scale.train_at_scale(spark, ratings, params, settings.als_checkpoint_interval, folder)
    ratings.unpersist()

    print(f"{run.per_iteration:.2f}s per iteration; fits {run.seconds}")
    assert run.factors_finite
    assert set(run.seconds) == {2, 20} and run.seconds[20] > run.seconds[2]
    assert list(tmp_path.iterdir()) == [], "the checkpoints are removed"
