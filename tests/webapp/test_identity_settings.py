"""Identity settings that cannot work stop the web app at start, naming the variable (and
never quoting a token); no service is needed: create_app connects to nothing."""

from __future__ import annotations

import dataclasses

import pytest

from recsys.settings import Settings, SettingsError
from webapp import create_app

BASE = Settings(postgres_password="p", auth_secret="s" * 48)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"auth_mode": "closed"}, "RECSYS_AUTH_MODE"),
        ({"auth_secret": None}, "RECSYS_AUTH_SECRET"),
        ({"auth_jwks_url": "http://127.0.0.1:1/jwks"}, "RECSYS_AUTH_JWKS_ISSUER"),
        ({"admin_tokens": "ops:root:0123456789abcdef"}, "RECSYS_ADMIN_TOKENS entry 1"),
        ({"admin_tokens": "a:admin:0123456789abcdef,ops:operator:short"}, "entry 2"),
        ({"admin_tokens": "no-colons-at-all-here"}, "name:role:token"),
    ],
)
def test_a_setting_that_cannot_work_is_named_at_start(changes, named):

    with pytest.raises(SettingsError, match=named) as raised:
        create_app(dataclasses.replace(BASE, **changes))
    assert "0123456789abcdef" not in str(raised.value)


def test_open_mode_needs_no_secret_and_good_tokens_pass():

    create_app(dataclasses.replace(BASE, auth_mode="open", auth_secret=None))
    create_app(dataclasses.replace(BASE, admin_tokens="ops:operator:0123456789abcdef"))
