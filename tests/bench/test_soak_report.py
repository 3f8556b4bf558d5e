"""The soak report's p99 flatness: windows, ratios and the sampling-noise baseline."""

import random
from types import SimpleNamespace

import pytest

from bench.soak_report import noise_ratio, p99_ratio, window_latencies


def answers(ms_per_minute: list[list[float]]) -> dict:
    """by_window as the report builds it: {minute: {"home": [answers]}}."""
    return {
        m: {"home": [SimpleNamespace(ms=ms, ok=True) for ms in minute]}
        for m, minute in enumerate(ms_per_minute)
    }


def test_windows_group_minutes_and_leave_out_the_retrain_and_a_short_tail():
    by_window = answers([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [7.0]])
    assert window_latencies(by_window, 7, 2, set(), "home") == [[1, 2], [3, 4], [5, 6]]
    assert window_latencies(by_window, 7, 2, {3}, "home") == [[1, 2], [5, 6]]
    assert window_latencies(by_window, 7, 1, {0, 6}, "home") == [[2], [3], [4], [5], [6]]


def test_p99_ratio_is_the_highest_window_over_the_median_window():
    # p99 of 100 values 1..100 is the 100th (index 99); a window at 2x that doubles it
    steady = [float(v) for v in range(1, 101)]
    assert p99_ratio([steady, steady, [2 * v for v in steady]]) == pytest.approx(2.0)
    assert p99_ratio([steady]) is None


def test_noise_of_a_steady_service_is_near_one_with_many_samples_and_high_with_few():
    rng = random.Random(1)

    def steady_windows(count: int, size: int) -> list[list[float]]:
        return [[rng.lognormvariate(3, 0.5) for _ in range(size)] for _ in range(count)]

    many = noise_ratio(steady_windows(6, 6000))
    few = noise_ratio(steady_windows(28, 120))
    assert 1.0 <= many < 1.1
    assert few > many + 0.1
    # a real step in one window stands out from the noise baseline
    stepped = steady_windows(6, 6000)
    stepped[3] = [2 * ms for ms in stepped[3]]
    assert p99_ratio(stepped) > 1.8 > noise_ratio(stepped)
