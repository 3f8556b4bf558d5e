"""The admin page's audit trail and roles in a real headless Chromium, against the real
gunicorn app: an admin's experiment start, refused restart and stop appear in the Audit
section with who and how each ended, newest first, a page at a time, as text; an operator's
page says who it is, hides or disables what would change something, shows the 403 of an
action it forces anyway, and still reads the audit trail.
Screenshot: artifacts/screenshots/admin-audit.png."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from recsys import audit, db
from recsys import experiment_store as store
from tests.auth_helpers import bearer, issuer
from tests.e2e.browser import screenshot

pytestmark = pytest.mark.integration

ARMS = "control:0.5\nshuffle:0.5:random"


@pytest.fixture
def nothing_running(postgres):
    """No experiment runs before the test, nor after it: one left running (the operator's
    test leaves its random arm on home) would serve later modules' listeners random songs."""

    def stop_all(why: str) -> None:
        with db.connect(postgres, autocommit=True) as conn:
            for experiment in store.running(conn).values():
                store.stop(conn, experiment.name, why)

    stop_all("test setup")
    yield postgres
    stop_all("test teardown")


def open_admin(page, settings, token: str) -> None:
    page.goto(f"{settings.webapp_url}/admin")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("token-submit").click()
    page.wait_for_selector("body[data-ready=true]")


def rows(page, action: str, target: str):
    """The audit rows of ``action`` on ``target``."""
    return page.locator(f'[data-testid=audit-row][data-action="{action}"]').filter(
        has=page.get_by_test_id("audit-target").get_by_text(target, exact=True)
    )


def shown_ids(page) -> list[int]:
    ids = page.get_by_test_id("audit-row").evaluate_all("rows => rows.map(r => r.dataset.id)")
    return [int(i) for i in ids]


def test_an_admins_actions_appear_in_the_audit_trail(
    page, settings, webapp_server, nothing_running
):
    name = f"audit-{uuid.uuid4().hex[:8]}"
    # a target from a user is text, never markup; and enough older rows for a second page
    hostile = '<img src=x data-testid="injected">'
    with db.connect(settings) as conn:
        for i in range(25):
            audit.record(conn, "cli:tester", "cli", "song.takedown", f"{name}-older-{i}")
        audit.record(conn, "cli:tester", "cli", "song.restore", hostile, {"note": hostile})

    open_admin(page, settings, settings.admin_token)
    assert page.get_by_test_id("admin-who").text_content() == "Signed in as admin (admin)"
    assert page.get_by_test_id("read-only-note").is_hidden()
    assert page.get_by_test_id("retrain").is_enabled()

    restored = rows(page, "song.restore", hostile)
    assert restored.count() == 1
    assert page.get_by_test_id("injected").count() == 0
    restored.get_by_test_id("audit-details").locator("summary").click()
    assert json.loads(restored.locator("pre").text_content()) == {"note": hostile}

    page.get_by_test_id("experiment-name").fill(name)
    page.get_by_test_id("experiment-surface").select_option("up_next")
    page.get_by_test_id("experiment-arms").fill(ARMS)
    page.get_by_test_id("experiment-start").click()
    started = rows(page, "experiment.start", name)
    started.wait_for()
    assert started.get_by_test_id("audit-actor").text_content().startswith("api:token:admin@")
    assert started.get_by_test_id("audit-outcome").text_content() == "ok"
    assert '"up_next"' in started.locator("pre").text_content()
    assert started.get_by_test_id("audit-at").get_attribute("title").endswith(" UTC")

    # the same name again is refused (409): the refusal is recorded with its kind
    page.get_by_test_id("experiment-name").fill(name)
    page.get_by_test_id("experiment-arms").fill(ARMS)
    page.get_by_test_id("experiment-start").click()
    page.get_by_test_id("experiment-error").filter(has_text=name).wait_for()
    refused = started.filter(has=page.locator("[data-testid=audit-outcome]:not(.ok)"))
    refused.wait_for()
    assert refused.get_by_test_id("audit-outcome").text_content() == "experiment_conflict"

    page.locator(f'[data-testid=experiment][data-name="{name}"]').get_by_test_id(
        "experiment-stop"
    ).click()
    stopped = rows(page, "experiment.stop", name)
    stopped.wait_for()
    assert stopped.get_by_test_id("audit-outcome").text_content() == "ok"
    first = page.get_by_test_id("audit-row").first
    assert first.get_attribute("data-action") == "experiment.stop"
    screenshot(page, "admin-audit.png")

    # newest first, a page at a time: Older appends the next page, nothing twice
    on_first_page = shown_ids(page)
    assert len(on_first_page) == 20
    page.get_by_test_id("audit-older").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=audit-row]').length > 20")
    ids = shown_ids(page)
    assert ids[:20] == on_first_page
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    with db.connect(settings) as conn:
        newest = [e.id for e in audit.recent(conn, len(ids))]
    assert ids == newest


def test_an_operator_reads_but_cannot_change(page, settings, webapp_server, nothing_running):
    name = f"audit-op-{uuid.uuid4().hex[:8]}"
    admin = bearer(settings.admin_token)
    arms = [{"name": "control", "share": 0.5}, {"name": "shuffle", "share": 0.5, "random": True}]
    body = {"name": name, "surface": "home", "arms": arms}
    answer = requests.post(f"{settings.webapp_url}/api/v1/admin/experiments", json=body,
                           headers=admin, timeout=10)  # fmt: skip
    assert answer.status_code == 201, answer.text
    operator = issuer(settings).admin("ops", "operator")

    open_admin(page, settings, operator)
    who = page.get_by_test_id("admin-who")
    assert who.text_content() == "Signed in as admin:ops (operator)"
    assert page.get_by_test_id("read-only-note").is_visible()
    assert page.get_by_test_id("experiment-form").is_hidden()
    assert page.get_by_test_id("experiments-read-only").is_visible()
    assert page.get_by_test_id("retrain").is_disabled()
    assert page.get_by_test_id("reembed").is_disabled()
    listed = page.locator(f'[data-testid=experiment][data-name="{name}"]')
    assert listed.get_attribute("data-status") == "running"
    assert listed.get_by_test_id("experiment-stop").count() == 0
    assert page.get_by_test_id("activate").count() == 0

    # the audit trail is readable: the admin's start is there
    started = rows(page, "experiment.start", name)
    assert started.get_by_test_id("audit-actor").text_content().startswith("api:token:admin@")

    # an action forced anyway is refused by the server, its message in the section's line
    page.evaluate(
        """() => {
          const button = document.querySelector('[data-testid=retrain]');
          button.disabled = false;
          button.click();
        }"""
    )
    page.get_by_test_id("run-error").filter(has_text="operator role").wait_for()
    assert "needs the admin role" in page.get_by_test_id("run-error").text_content()
    stop = requests.post(f"{settings.webapp_url}/api/v1/admin/experiments/{name}/stop",
                         headers=bearer(operator), timeout=10)  # fmt: skip
    assert stop.status_code == 403
    with db.connect(settings) as conn:
        assert store.get(conn, name).status == "running"
