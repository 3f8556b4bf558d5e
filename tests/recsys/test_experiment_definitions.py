"""An experiment's definition as serving would run it (recsys.experiments, pure): each
problem named by its field, and arms kept as JSON and read back unchanged."""

from __future__ import annotations

import pytest

from recsys.experiments import Arm, definition_problems

PLAIN = Arm("control", 0.5)


def test_a_runnable_definition_has_no_problems():
    arms = [PLAIN, Arm("v", 0.2, model_version=3), Arm("b", 0.2, blend=0.0),
            Arm("r", 0.1, random=True)]  # fmt: skip
    assert definition_problems("blend-test.1_a", "home", arms) == []
    assert definition_problems("x", "up_next", [PLAIN, Arm("b", 0.5, blend=1)]) == []


@pytest.mark.parametrize(
    ("name", "surface", "arms", "expected"),
    [
        ("-starts-with-dash", "home", [PLAIN, Arm("b", 0.5)], ["name"]),
        ("x" * 65, "home", [PLAIN, Arm("b", 0.5)], ["name"]),
        ("a/b", "home", [PLAIN, Arm("b", 0.5)], ["name"]),
        ("ok", "radio", [PLAIN, Arm("b", 0.5)], ["surface"]),
        ("ok", "home", [Arm("c", 0.5, model_version=2), Arm("b", 0.5)], ["arms[0]"]),
        ("ok", "home", [Arm("c", 0.5, random=True), Arm("b", 0.5)], ["arms"]),
        ("ok", "home", [PLAIN, Arm("b", 0.5, blend=-0.1)], ["arms[1].blend"]),
        ("ok", "home", [PLAIN, Arm("b", 0.5, blend=True)], ["arms[1].blend"]),
        ("ok", "home", [PLAIN, Arm("b", 0.5, model_version="7")], ["arms[1].model_version"]),
        ("ok", "up_next", [PLAIN, Arm("b", 0.5, model_version=7)], ["arms[1].model_version"]),
        ("ok", "home", [PLAIN, Arm("b", 0.5, random=True, model_version=7)], ["arms[1].random"]),
        ("bad name", "radio", [Arm("c", 1.0)], ["name", "surface", "arms"]),
    ],
)
def test_each_problem_names_its_field(name, surface, arms, expected):
    assert [field for field, _ in definition_problems(name, surface, arms)] == expected


def test_the_control_must_be_plain_so_that_a_stop_changes_nothing_for_it():
    ((field, reason),) = definition_problems("ok", "home", [Arm("c", 0.5, blend=0.3), PLAIN])
    assert field == "arms[0]" and "stopping the experiment changes nothing" in reason
    assert PLAIN.plain and not Arm("b", 0.5, blend=0.3).plain


def test_an_arm_survives_its_json_form():
    for arm in (PLAIN, Arm("v", 0.25, model_version=4, blend=0.5), Arm("r", 0.25, random=True)):
        assert Arm.from_dict(arm.as_dict()) == arm
    assert Arm.from_dict({"name": "short", "share": 0.5}) == Arm("short", 0.5)
