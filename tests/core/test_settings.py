"""Settings from HUB_ variables: a bad value names the variable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hub.settings import SettingsError, demo_secret_key, load_settings

GOOD_KEY = "x" * 40


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("HUB_SECRET_KEY", "too-short", "at least 32 characters"),
        ("HUB_SECRET_KEY", f"{GOOD_KEY},short", "at least 32 characters"),
        ("HUB_BROKER_URL", "ftp://x", "redis://"),
        ("HUB_DEFAULT_TIMEZONE", "Mars/Base", "Mars/Base"),
        ("HUB_API_RATE_LIMIT_PER_MINUTE", "lots", "HUB_API_RATE_LIMIT_PER_MINUTE"),
        ("HUB_RUN_HEARTBEAT_SECONDS", "0", "greater than 0"),
    ],
)
def test_a_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    if variable != "HUB_SECRET_KEY":
        monkeypatch.setenv("HUB_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"{variable}:" in message
    assert says in message


def test_a_missing_secret_key_is_refused() -> None:
    with pytest.raises(SettingsError, match="HUB_SECRET_KEY is required"):
        load_settings()


def test_good_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_SECRET_KEY", f"{'n' * 32}, {GOOD_KEY}")
    monkeypatch.setenv("HUB_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("HUB_DEFAULT_TIMEZONE", "America/Chicago")
    monkeypatch.setenv("HUB_VAR_DIR", "/tmp/hub-var")
    settings = load_settings()
    assert settings.secret_keys == ["n" * 32, GOOD_KEY]
    assert not settings.embedded_broker
    assert settings.default_timezone == "America/Chicago"
    assert settings.effective_database_url == "sqlite:////tmp/hub-var/hub.db"


def test_the_embedded_broker_is_the_default() -> None:
    settings = load_settings(secret_key=GOOD_KEY)
    assert settings.embedded_broker
    assert settings.broker_url == "embedded"


def test_the_demo_secret_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    key = demo_secret_key(tmp_path / "var")
    path = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32
    assert demo_secret_key(tmp_path / "var") == key
    assert load_settings(secret_key=key).secret_keys == [key]
