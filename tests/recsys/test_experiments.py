"""Experiment arms, stable assignment and the lift statistics, against hand-computed numbers."""

import doctest
import math

import pytest

from recsys import experiments
from recsys.experiments import MIN_TRIALS, Arm, assign_arm, rate_lift, validate_arms, verdict

LISTENERS = [f"listener-{i}" for i in range(20_000)]
Z95 = 1.959964


def two_arms(control_share=0.5):
    return [Arm("A", control_share), Arm("B", 1 - control_share)]


def test_the_module_docstring_example_runs():
    result = doctest.testmod(experiments)
    assert result.attempted > 0
    assert result.failed == 0


def test_assignment_is_stable_across_calls_and_equal_arm_lists():
    arms = two_arms()
    first = [assign_arm(listener, "exp-1", arms).name for listener in LISTENERS[:500]]
    again = [assign_arm(listener, "exp-1", two_arms()).name for listener in LISTENERS[:500]]
    assert first == again


def test_assignment_is_pinned_across_processes_and_releases():
    # Changing the hash would move listeners between arms in a running experiment; Python's
    # hash() of a str also changes per process, so this pin fails if it were used.
    names = "".join(assign_arm(f"listener-{i}", "exp-1", two_arms()).name for i in range(20))
    assert names == "AABABABABBBBAAABABBB"


@pytest.mark.parametrize("shares", [(0.5, 0.5), (0.8, 0.2), (0.5, 0.3, 0.2)])
def test_assignment_follows_the_shares(shares):
    arms = [Arm(f"arm-{i}", share) for i, share in enumerate(shares)]
    names = [assign_arm(listener, "exp-1", arms).name for listener in LISTENERS]
    for arm in arms:
        assert names.count(arm.name) / len(names) == pytest.approx(arm.share, abs=0.02)


def test_assignment_is_independent_across_experiments():
    in_a_of_first = {ln for ln in LISTENERS if assign_arm(ln, "exp-1", two_arms(0.5)).name == "A"}
    in_a_of_second = {ln for ln in LISTENERS if assign_arm(ln, "exp-2", two_arms(0.8)).name == "A"}
    both = len(in_a_of_first & in_a_of_second) / len(LISTENERS)
    assert both == pytest.approx(0.5 * 0.8, abs=0.02)


def test_assignment_refuses_invalid_arms():
    with pytest.raises(ValueError, match="sum to"):
        assign_arm("listener-1", "exp-1", [Arm("A", 0.5), Arm("B", 0.4)])


def test_valid_arms_have_no_problems():
    arms = [
        Arm("control", 0.6),
        Arm("v7", 0.2, model_version=7),
        Arm("session-heavy", 0.1, blend={"als": 0.3, "session": 0.7}),
        Arm("random", 0.1, random=True),
    ]
    assert validate_arms(arms) == []


@pytest.mark.parametrize(
    ("arms", "wording"),
    [
        ([Arm("A", 1.0)], "at least 2 arms"),
        ([], "at least 2 arms"),
        ([Arm("A", 0.5), Arm("  ", 0.5)], "arm 2 has a blank name"),
        ([Arm("A", 0.5), Arm("x" * 41, 0.5)], "longer than 40 characters"),
        ([Arm("A", 0.5), Arm("A", 0.5)], "'A' is used more than once"),
        ([Arm("A", 1.0), Arm("B", 0.0)], "shares must be > 0"),
        ([Arm("A", 1.5), Arm("B", -0.5)], "shares must be > 0"),
        ([Arm("A", 0.5), Arm("B", 0.4)], "shares sum to 0.9; they must sum to 1"),
        ([Arm("A", 0.5, random=True), Arm("B", 0.5)], "is the control and cannot serve random"),
    ],
)
def test_validate_arms_names_each_problem(arms, wording):
    problems = validate_arms(arms)
    assert len(problems) == 1
    assert wording in problems[0]


def test_forty_characters_and_a_sum_within_tolerance_are_fine():
    arms = [Arm("x" * 40, 0.5), Arm("B", 0.5 + 1e-7)]
    assert validate_arms(arms) == []


def test_rate_lift_matches_the_hand_computed_wald_interval():
    lift = rate_lift(500, 1000, 600, 1000)

    se = math.sqrt(0.6 * 0.4 / 1000 + 0.5 * 0.5 / 1000)
    assert lift.control_rate == pytest.approx(0.5)
    assert lift.arm_rate == pytest.approx(0.6)
    assert lift.difference == pytest.approx(0.1)
    assert lift.low == pytest.approx(0.1 - Z95 * se, abs=1e-6)
    assert lift.high == pytest.approx(0.1 + Z95 * se, abs=1e-6)
    assert lift.relative == pytest.approx(0.2)
    assert lift.significant


def test_rate_lift_with_unequal_trials_and_another_confidence():
    lift = rate_lift(30, 200, 90, 400, confidence=0.99)

    se = math.sqrt(0.15 * 0.85 / 200 + 0.225 * 0.775 / 400)
    assert lift.difference == pytest.approx(0.075)
    assert lift.low == pytest.approx(0.075 - 2.575829 * se, abs=1e-6)
    assert lift.high == pytest.approx(0.075 + 2.575829 * se, abs=1e-6)


def test_a_significant_drop_has_an_interval_below_zero():
    lift = rate_lift(600, 1000, 500, 1000)
    assert lift.high < 0
    assert lift.significant


def test_a_small_difference_is_not_significant():
    lift = rate_lift(500, 1000, 510, 1000)
    assert lift.low < 0 < lift.high
    assert not lift.significant


def test_a_side_without_trials_gives_no_interval():
    lift = rate_lift(0, 0, 5, 10)
    assert lift.control_rate is None
    assert lift.arm_rate == pytest.approx(0.5)
    assert (lift.difference, lift.low, lift.high, lift.relative) == (None, None, None, None)
    assert not lift.significant
    assert verdict(lift, higher_is_better=True) == "not enough data"


def test_relative_lift_is_none_when_the_control_rate_is_zero():
    lift = rate_lift(0, 100, 10, 100)
    assert lift.difference == pytest.approx(0.1)
    assert lift.relative is None


@pytest.mark.parametrize(
    ("counts", "confidence"),
    [((5, 4, 1, 2), 0.95), ((-1, 4, 1, 2), 0.95), ((1, 4, 1, 2), 1.0), ((1, 4, 1, 2), 0.0)],
)
def test_rate_lift_refuses_impossible_input(counts, confidence):
    with pytest.raises(ValueError):
        rate_lift(*counts, confidence=confidence)


@pytest.mark.parametrize(
    ("counts", "play_through", "skip_rate"),
    [
        ((500, 1000, 600, 1000), "better", "worse"),
        ((600, 1000, 500, 1000), "worse", "better"),
        ((500, 1000, 510, 1000), "not yet significant", "not yet significant"),
        ((10, MIN_TRIALS - 1, 29, 1000), "not enough data", "not enough data"),
        ((29, 1000, 10, MIN_TRIALS - 1), "not enough data", "not enough data"),
    ],
)
def test_verdict_in_plain_words_flips_when_lower_is_better(counts, play_through, skip_rate):
    lift = rate_lift(*counts)
    assert verdict(lift, higher_is_better=True) == play_through
    assert verdict(lift, higher_is_better=False) == skip_rate


def test_min_trials_on_both_sides_is_enough():
    lift = rate_lift(0, MIN_TRIALS, MIN_TRIALS, MIN_TRIALS)
    assert verdict(lift, higher_is_better=True) == "better"
