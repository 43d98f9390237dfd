from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import AgentSettings, SettingsError
from controller.errors import ConfigError
from controller.settings import async_database_url, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DESKSIDE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_follow_the_design() -> None:
    settings = load_settings()
    assert settings.http_listen == "127.0.0.1:8000"
    assert settings.grpc_listen == "127.0.0.1:50051"
    assert settings.enroll_listen == "127.0.0.1:50052"
    assert settings.data_dir == Path("var")
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.resolved_database_url.endswith("/var/deskside.db")


def test_environment_wins_over_the_toml_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "deskside.toml"
    config.write_text('http_listen = "0.0.0.0:9000"\nheartbeat_interval_s = 3\n')
    monkeypatch.setenv("DESKSIDE_CONFIG", str(config))
    monkeypatch.setenv("DESKSIDE_HTTP_LISTEN", "127.0.0.1:9100")
    settings = load_settings()
    assert settings.http_listen == "127.0.0.1:9100"
    assert settings.heartbeat_interval_s == 3


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DESKSIDE_HTTP_LISTEN", "localhost", "DESKSIDE_HTTP_LISTEN: expected HOST:PORT"),
        ("DESKSIDE_GRPC_LISTEN", "h:70000", "DESKSIDE_GRPC_LISTEN: port must be a number"),
        ("DESKSIDE_HEARTBEAT_INTERVAL_S", "0", "DESKSIDE_HEARTBEAT_INTERVAL_S"),
        ("DESKSIDE_LOG_LEVEL", "loud", "DESKSIDE_LOG_LEVEL"),
        ("DESKSIDE_DATABASE_URL", "mysql://x/y", "DESKSIDE_DATABASE_URL: unsupported database"),
        ("DESKSIDE_NO_SUCH_SETTING", "1", None),
    ],
)
def test_bad_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str | None
) -> None:
    monkeypatch.setenv(name, value)
    if message is None:  # unknown DESKSIDE_* variables are ignored (the environment is shared)
        load_settings()
        return
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_unknown_key_in_the_toml_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("htp_listen = '1.2.3.4:5'\n")
    monkeypatch.setenv("DESKSIDE_CONFIG", str(config))
    with pytest.raises(ConfigError, match="HTP_LISTEN"):
        load_settings()


def test_database_urls_get_async_drivers() -> None:
    assert async_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_database_url("sqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"


def test_agent_settings_validate_their_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DESKSIDE_AGENT_DIR", str(tmp_path))
    assert AgentSettings.from_env().state_dir == tmp_path
    monkeypatch.setenv("DESKSIDE_AGENT_MAX_BACKOFF_S", "soon")
    with pytest.raises(SettingsError, match="DESKSIDE_AGENT_MAX_BACKOFF_S: expected a number"):
        AgentSettings.from_env()
    monkeypatch.setenv("DESKSIDE_AGENT_MAX_BACKOFF_S", "5")
    monkeypatch.setenv("DESKSIDE_AGENT_LOG_LEVEL", "chatty")
    with pytest.raises(SettingsError, match="DESKSIDE_AGENT_LOG_LEVEL"):
        AgentSettings.from_env()
