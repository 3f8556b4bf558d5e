"""An admin runs an experiment from the admin page in a real headless Chromium, against the
real gunicorn app: starts it with the form, sees it listed with each arm's results and
verdicts, and stops it. Screenshot: artifacts/screenshots/admin-experiments.png."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import requests

from recsys import db
from recsys import experiment_store as store
from tests.e2e.browser import screenshot

pytestmark = pytest.mark.integration


@pytest.fixture
def nothing_running(postgres):
    with db.connect(postgres, autocommit=True) as conn:
        for experiment in store.running(conn).values():
            store.stop(conn, experiment.name, "test setup")
    return postgres


def open_admin(page, settings) -> None:
    page.goto(f"{settings.webapp_url}/admin")
    page.get_by_test_id("token-input").fill(settings.admin_token)
    page.get_by_test_id("token-submit").click()
    page.wait_for_selector("body[data-ready=true]")


def test_start_an_experiment_see_its_results_and_stop_it(
    page, settings, webapp_server, nothing_running
):
    name = f"page-{uuid.uuid4().hex[:8]}"
    open_admin(page, settings)

    page.get_by_test_id("experiment-name").fill(name)
    page.get_by_test_id("experiment-surface").select_option("up_next")
    page.get_by_test_id("experiment-arms").fill("control:0.5\nshuffle:0.5:random")
    page.get_by_test_id("experiment-notes").fill("does random lose?")
    page.get_by_test_id("experiment-start").click()
    listed = page.locator(f'[data-testid=experiment][data-name="{name}"]')
    listed.wait_for()
    assert listed.get_attribute("data-status") == "running"
    assert listed.get_by_test_id("experiment-arm").count() == 2

    admin = {"Authorization": f"Bearer {settings.admin_token}"}
    answer = requests.get(f"{settings.webapp_url}/api/v1/admin/experiments/{name}",
                          headers=admin, timeout=10)  # fmt: skip
    assert answer.json()["surface"] == "up_next"
    assert [a["random"] for a in answer.json()["arms"]] == [False, True]

    # a day of outcomes, as the online_metrics DAG writes them: random skips more
    with db.connect(settings, autocommit=True) as conn:
        for arm, completes, skips in (("control", 300, 200), ("shuffle", 200, 300)):
            conn.execute(
                "insert into analytics.online_metrics values (%s, 'up_next', null, %s, %s, 100,"
                " 2000, 10, 500, 500, %s, %s, 0, 0, 0, now())",
                (dt.date.today(), name, arm, completes, skips),
            )
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    shuffle = listed.locator('[data-testid=experiment-arm][data-arm="shuffle"]')
    assert shuffle.get_by_test_id("arm-impressions").text_content() == "100"
    assert shuffle.get_by_test_id("lift-play_through_rate").text_content() == (
        "−20.0 pts [−26.1, −13.9]"
    )
    assert shuffle.get_by_test_id("verdict-play_through_rate").text_content() == "worse"
    assert shuffle.get_by_test_id("verdict-skip_rate").text_content() == "worse"
    screenshot(page, "admin-experiments.png")

    listed.get_by_test_id("experiment-stop").click()
    page.locator(f'[data-testid=experiment][data-name="{name}"][data-status=stopped]').wait_for()
    assert listed.get_by_test_id("experiment-stop").count() == 0
    with db.connect(settings) as conn:
        assert store.get(conn, name).status == "stopped"


def test_a_bad_arm_is_named_on_the_page(page, settings, webapp_server, nothing_running):
    open_admin(page, settings)
    page.get_by_test_id("experiment-name").fill(f"page-{uuid.uuid4().hex[:8]}")
    page.get_by_test_id("experiment-arms").fill("control:0.5\nb:0.5:blend=1.5")
    page.get_by_test_id("experiment-start").click()
    error = page.get_by_test_id("experiment-error")
    error.filter(has_text="arms[1].blend").wait_for()
    assert "at most 1" in error.text_content()
