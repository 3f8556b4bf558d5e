"""The ALS benchmark's verdict: speed as a ratio, quality judged one way."""

from bench.als import Fit, report
from recsys.ranking_metrics import RankingMetrics


def fit(two: float, ten: float, ndcg: float) -> Fit:
    metrics = RankingMetrics(k=10, users=1, precision=0, recall=0, ndcg=ndcg, map=0, coverage=0)
    return Fit({2: [two, two + 1], 10: [ten]}, metrics)


def verdict(spark_ndcg: float) -> str:
    implicit = fit(0.2, 1.0, ndcg=0.040)  # 0.1 s per iteration
    spark = fit(2.0, 6.0, ndcg=spark_ndcg)  # 0.5 s per iteration: 5x
    return report({2: spark}, implicit, implicit, popularity=0.03).splitlines()[-1]


def test_speed_is_the_slope_between_the_fastest_repeats_against_implicit():
    assert "per iteration within 5x of implicit: meets (5.0x)" in verdict(0.040)


def test_a_spark_model_more_than_the_gap_below_implicit_misses():
    assert "below implicit's: MISSES (-10.0%)" in verdict(0.036)
    assert "below implicit's: meets (-4.5%)" in verdict(0.0382)


def test_a_spark_model_above_implicit_is_no_shortfall():
    assert "below implicit's: meets (+75.0%)" in verdict(0.070)
