"""The metric code against a hand-computed example, and top-K retrieval against brute force."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.ranking_metrics import evaluate, popularity_top_k, top_k


def test_metrics_match_a_hand_computed_example():
    recommended = np.array([[5, 2, 7], [1, 3, 4], [0, -1, -1]])
    relevant = [{2, 9}, {1, 4}, set()]  # the third user has nothing to find: left out

    m = evaluate(recommended, relevant, k=3, n_items=10)

    # user 0: one hit at rank 2 of 2 relevant; user 1: hits at ranks 1 and 3 of 2 relevant
    log3 = math.log2(3)
    ndcg0 = (1 / log3) / (1 + 1 / log3)
    ndcg1 = (1 + 1 / 2) / (1 + 1 / log3)
    assert m.users == 2
    assert m.precision == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert m.recall == pytest.approx((1 / 2 + 2 / 2) / 2)
    assert m.ndcg == pytest.approx((ndcg0 + ndcg1) / 2)
    assert m.map == pytest.approx(((1 / 2) / 2 + (1 / 1 + 2 / 3) / 2) / 2)
    assert m.coverage == pytest.approx(7 / 10)  # items 0, 1, 2, 3, 4, 5, 7


def test_a_perfect_list_scores_one():
    m = evaluate(np.array([[3, 1, 2]]), [{1, 2, 3}], k=3, n_items=4)
    assert (m.precision, m.recall, m.ndcg, m.map) == pytest.approx((1, 1, 1, 1))


def test_top_k_is_the_brute_force_ranking_without_excluded_items():
    rng = np.random.default_rng(3)
    users, items = rng.normal(size=(50, 8)), rng.normal(size=(40, 8))
    exclude = sp.random(50, 40, density=0.2, format="csr", random_state=4)

    got = top_k(users, items, k=5, exclude=exclude, chunk=7)

    for u in range(50):
        scores = users[u] @ items.T
        scores[exclude[u].indices] = -np.inf
        assert list(got[u]) == list(np.argsort(-scores, kind="stable")[:5])


def test_top_k_pads_when_everything_is_excluded():
    got = top_k(np.ones((1, 2)), np.ones((3, 2)), k=4, exclude=sp.csr_matrix(np.ones((1, 3))))
    assert list(got[0]) == [-1, -1, -1, -1]


def test_popularity_skips_what_each_user_has_seen():
    exclude = sp.csr_matrix(np.array([[0, 0, 1], [1, 0, 0]]))
    got = popularity_top_k(np.array([5, 1, 9]), n_users=2, k=2, exclude=exclude)
    assert got.tolist() == [[0, 1], [2, 1]]
