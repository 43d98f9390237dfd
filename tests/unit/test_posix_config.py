"""config.set and config.rollback over the posix (ssh) actions, run for real through
LocalShell: the same edit gives the agent's result and the agent's bytes, a dry run
changes nothing, and rollback restores byte for byte unless the file changed since."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from local_shell import local_context

from agent.actions import IMPLEMENTATIONS
from agent.actions.context import ActionContext
from catalogue import ActionResult
from catalogue import actions as params
from controller.transports.posix import ACTIONS, config

FILES = {
    "app.ini": ("; front desk\n[server]\nport = 8080  ; listen\n", "server.port", 9090),
    "app.conf": ('# grub-like\nTIMEOUT=5\nNAME="desk"\n', "TIMEOUT", 10),
    "app.json": ('{\n    "server": {"port": 8080},\n    "debug": false\n}\n', "debug", True),
    "app.yaml": ("# service\nserver:\n  port: 8080  # listen\n", "server.port", 9090),
    "app.toml": ('# service\n[server]\nport = 8080\nname = "desk"\n', "server.name", "help"),
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The login's home for the remote side; the agent keeps its backups elsewhere."""
    monkeypatch.setenv("DESKSIDE_AGENT_DIR", str(tmp_path / "agent-state"))
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def remote(name: str, given: Any, home: Path, dry_run: bool = False) -> ActionResult:
    return ACTIONS[name](given, local_context(cwd=str(home), dry_run=dry_run))


def agent(name: str, given: Any, dry_run: bool = False) -> ActionResult:
    return IMPLEMENTATIONS[name](given, ActionContext(dry_run=dry_run))


def same(got: ActionResult, expected: ActionResult) -> None:
    assert (got.ok, got.changed, got.output) == (expected.ok, expected.changed, expected.output)
    assert got.data == expected.data
    assert got.evidence == expected.evidence
    assert (got.rollback is None) == (expected.rollback is None)


@pytest.mark.parametrize("name", sorted(FILES))
def test_set_matches_the_agent_and_rolls_back_byte_for_byte(home: Path, name: str) -> None:
    text, key, value = FILES[name]
    ours, theirs = home.parent / "remote" / name, home.parent / "agent" / name
    for path in (ours, theirs):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        path.chmod(0o640)
    got = remote("config.set", params.ConfigSet(path=str(ours), key=key, value=value), home)
    expected = agent("config.set", params.ConfigSet(path=str(theirs), key=key, value=value))
    assert got.ok and got.changed, got.error
    assert ours.read_bytes() == theirs.read_bytes() != text.encode()
    assert got.output == expected.output.replace(str(theirs), str(ours))
    assert got.data == {**expected.data, "path": str(ours)}
    assert got.evidence == expected.evidence
    assert os.stat(ours).st_mode & 0o777 == 0o640
    backup = home / config.BACKUPS / f"{got.rollback}.bak"
    assert backup.read_bytes() == text.encode() and backup.stat().st_mode & 0o777 == 0o600

    undone = remote("config.rollback", params.ConfigRollback(rollback=got.rollback), home)
    assert undone.ok and undone.changed, undone.error
    assert ours.read_bytes() == text.encode() and os.stat(ours).st_mode & 0o777 == 0o640
    again = remote("config.rollback", params.ConfigRollback(rollback=got.rollback), home)
    assert again.ok and not again.changed and "already has its content" in again.output


def test_dry_run_and_no_op_match_the_agent_and_change_nothing(home: Path) -> None:
    path = home.parent / "app.ini"
    path.write_text(FILES["app.ini"][0])
    for given, dry_run in (
        (params.ConfigSet(path=str(path), key="server.port", value=9090), True),
        (params.ConfigSet(path=str(path), key="server.port", value=8080), False),
    ):
        got = remote("config.set", given, home, dry_run=dry_run)
        same(got, agent("config.set", given, dry_run=dry_run))
        assert not got.changed and got.rollback is None
        assert path.read_text() == FILES["app.ini"][0]
    assert not (home / config.BACKUPS).exists()


def test_a_link_is_edited_where_it_leads(home: Path) -> None:
    real = home.parent / "real.ini"
    real.write_text(FILES["app.ini"][0])
    link = home.parent / "link.ini"
    link.symlink_to(real)
    got = remote("config.set", params.ConfigSet(path=str(link), key="server.port", value=1), home)
    assert got.ok and got.changed and link.is_symlink()
    assert "port = 1  ; listen" in real.read_text()


def test_rollback_refuses_a_file_changed_since(home: Path) -> None:
    path = home.parent / "app.toml"
    path.write_text(FILES["app.toml"][0])
    got = remote("config.set", params.ConfigSet(path=str(path), key="server.port", value=1), home)
    assert got.rollback is not None
    theirs = path.read_text().replace("port = 1", "port = 2")
    path.write_text(theirs)
    refused = remote("config.rollback", params.ConfigRollback(rollback=got.rollback), home)
    assert refused.error is not None and refused.error.code == "conflict"
    assert path.read_text() == theirs
    path.unlink()
    gone = remote("config.rollback", params.ConfigRollback(rollback=got.rollback), home)
    assert gone.error is not None and gone.error.code == "conflict"


def test_dry_run_rollback_shows_the_diff_and_restores_nothing(home: Path) -> None:
    path = home.parent / "app.yaml"
    path.write_text(FILES["app.yaml"][0])
    got = remote("config.set", params.ConfigSet(path=str(path), key="server.port", value=1), home)
    edited = path.read_bytes()
    token = params.ConfigRollback(rollback=str(got.rollback))
    shown = remote("config.rollback", token, home, dry_run=True)
    assert shown.ok and not shown.changed and "-  port: 1" in shown.output
    assert path.read_bytes() == edited


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ({"path": "/nonexistent/app.ini", "key": "a.b", "value": 1}, "not_found"),
        ({"path": "/", "key": "a", "value": 1}, "not_found"),
        ({"path": "INI", "key": "nosection", "value": 1}, "invalid_params"),
        ({"path": "BAD", "key": "a", "value": 1, "format": "json"}, "parse_error"),
    ],
)
def test_failures_match_the_agent(home: Path, given: dict[str, Any], code: str) -> None:
    made = {"BAD": home.parent / "broken", "INI": home.parent / "app.ini"}
    made["BAD"].write_text("{ not json\n")
    made["INI"].write_text(FILES["app.ini"][0])
    given = {**given, "path": str(made.get(given["path"], given["path"]))}
    got = remote("config.set", params.ConfigSet(**given), home)
    expected = agent("config.set", params.ConfigSet(**given))
    assert got.error is not None and expected.error is not None
    assert (got.error.code, got.error.message) == (code, expected.error.message)
    assert got.data == expected.data


def test_unknown_token_is_not_found(home: Path) -> None:
    got = remote("config.rollback", params.ConfigRollback(rollback="20240101T000000-0"), home)
    assert got.error is not None and got.error.code == "not_found"
