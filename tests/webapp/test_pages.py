"""The HTML pages through the Flask test client: they render, carry the settings their
scripts need, and every static file they load (scripts import one another) is served.
The pages themselves are exercised in a real browser by tests/e2e/test_player_browser.py."""

from __future__ import annotations

import re

import pytest

from recsys.settings import PROJECT_ROOT
from webapp import create_app

STATIC = PROJECT_ROOT / "webapp" / "static"


@pytest.fixture(scope="module")
def client(settings):
    """The pages need no service: nothing connects until an API call does."""
    return create_app(settings).test_client()


def static_urls(html: str) -> set[str]:
    return set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))


def imported_modules(script: str) -> set[str]:
    return set(re.findall(r'from "\./([\w.-]+\.js)"', script))


PAGES = [("/", 'data-testid="player"'), ("/admin", 'data-testid="token-input"')]


@pytest.mark.parametrize(("path", "marker"), PAGES)
def test_pages_render_as_html(client, path, marker):
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    html = answer.get_data(as_text=True)
    assert marker in html
    assert static_urls(html), "the page loads no script or stylesheet"


def test_the_player_gets_its_clock_speed_from_the_settings(client, settings):
    html = client.get("/").get_data(as_text=True)
    assert f'data-clock-speed="{settings.player_clock_speed}"' in html
    assert f'data-play-min-seconds="{settings.play_min_seconds}"' in html


def test_every_static_file_a_page_loads_is_served(client):
    urls = static_urls(client.get("/").get_data(as_text=True))
    urls |= static_urls(client.get("/admin").get_data(as_text=True))
    pending, seen = list(urls), set()
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        answer = client.get(url)
        assert answer.status_code == 200, url
        if url.endswith(".js"):
            assert answer.mimetype in ("text/javascript", "application/javascript"), url
            folder = url.rsplit("/", 1)[0]
            imports = imported_modules(answer.get_data(as_text=True))
            pending += [f"{folder}/{name}" for name in imports]
        answer.close()
    assert {"/static/style.css", "/static/js/api.js", "/static/js/player.js"} <= seen


def test_scripts_never_write_html():
    """Names and titles come from users: the scripts build the DOM with text nodes only."""
    for script in STATIC.glob("js/*.js"):
        text = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
            assert sink not in text, f"{script.name} uses {sink}"


def test_an_unknown_page_is_a_404(client):
    assert client.get("/no-such-page").status_code == 404
