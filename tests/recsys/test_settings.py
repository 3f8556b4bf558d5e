"""Settings: one environment variable each, documented once, secrets without defaults."""

import pytest

from recsys.settings import (
    PROJECT_ROOT,
    SettingsError,
    documented_settings,
    load_settings,
    read_env_file,
    require,
)
from recsysctl.envfile import ensure_env_file, render_example


def test_environment_overrides_env_file_over_defaults(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("RECSYS_POSTGRES_PORT=6000\nRECSYS_KAFKA_TOPIC=from_file\n")
    settings = load_settings({"RECSYS_POSTGRES_PORT": "7000"}, env_file=env_file)
    assert settings.postgres_port == 7000
    assert settings.kafka_topic == "from_file"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"


def test_malformed_number_names_the_variable(tmp_path):
    with pytest.raises(SettingsError, match="RECSYS_POSTGRES_PORT"):
        load_settings({"RECSYS_POSTGRES_PORT": "five"}, env_file=tmp_path / "none")


def test_flags_read_true_and_false_and_name_a_bad_value(tmp_path):
    name = "RECSYS_AIRFLOW_DAGS_PAUSED_AT_CREATION"
    for raw, value in (("true", True), ("Yes", True), ("0", False), ("false", False)):
        assert (
            load_settings({name: raw}, env_file=tmp_path / "none").airflow_dags_paused_at_creation
            is value
        )
    with pytest.raises(SettingsError, match=name):
        load_settings({name: "maybe"}, env_file=tmp_path / "none")


def test_missing_secret_names_the_variable_and_the_fix(tmp_path):
    settings = load_settings({}, env_file=tmp_path / "none")
    with pytest.raises(SettingsError, match="RECSYS_ADMIN_TOKEN.*make up"):
        require(settings, "admin_token")


def test_secrets_have_no_defaults():
    secrets = [(name, default) for name, default, _, secret in documented_settings() if secret]
    assert secrets and all(default is None for _, default in secrets)


def test_env_example_documents_every_setting_exactly():
    committed = (PROJECT_ROOT / ".env.example").read_text()
    assert committed == render_example(), "regenerate .env.example from recsysctl.envfile"


def test_ensure_env_file_generates_secrets_once(tmp_path):
    path = tmp_path / ".env"
    added = ensure_env_file(path)
    first = read_env_file(path)
    assert set(added) == {name for name, _, _, secret in documented_settings() if secret}
    assert ensure_env_file(path) == []
    assert read_env_file(path) == first
    assert all(first[name] for name in added)


def test_the_demo_turns_demo_sign_in_on_once_and_keeps_an_operators_choice(tmp_path):
    path = tmp_path / ".env"
    assert "RECSYS_AUTH_DEMO_SIGNIN" in ensure_env_file(path, demo=True)
    assert load_settings({}, env_file=path).auth_demo_signin is True
    assert len(read_env_file(path)["RECSYS_AUTH_SECRET"]) >= 43  # 32 bytes or more
    chosen = path.read_text().replace(
        "RECSYS_AUTH_DEMO_SIGNIN=true", "RECSYS_AUTH_DEMO_SIGNIN=false"
    )
    path.write_text(chosen)
    assert ensure_env_file(path, demo=True) == []
    assert load_settings({}, env_file=path).auth_demo_signin is False
    other = tmp_path / "real.env"
    ensure_env_file(other)
    assert load_settings({}, env_file=other).auth_demo_signin is False
