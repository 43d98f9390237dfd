"""config.set and config.rollback on real files: minimal edits, backups, byte-exact undo."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import catalogue
from agent.actions.config import ACTIONS
from agent.actions.context import ActionContext
from catalogue import ActionResult
from catalogue.config_edit.formats import infer

INI = """\
; Front-desk service configuration
# Both comment styles are in use here.

[server]
host = 0.0.0.0   ; listen everywhere
port = 8080
name = "Front desk"

# Database settings follow
[database]
url = postgres://db/app
pool_size = 5
"""

GRUB = """\
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"
GRUB_CMDLINE_LINUX=""

# Uncomment to disable graphical terminal
#GRUB_TERMINAL=console
"""

YAML = """\
# Service configuration
server:
  host: 0.0.0.0  # listen everywhere
  port: 8080
  tls:
    enabled: false
    cert: "/etc/ssl/app.pem"

# Storage backends
storage:
  - name: local
    path: /var/lib/app
logging:
  level: info   # debug when chasing a ticket
  file: null
"""

TOML = """\
# Agent settings
title = "front desk"

[server]
host = "0.0.0.0" # listen everywhere
port = 8080

# TLS is optional
[server.tls]
enabled = false

[[upstream]]
name = "a"
"""

JSON = """\
{
  "server": {
    "host": "0.0.0.0",
    "port": 8080
  },
  "features": {
    "beta": false
  }
}
"""

JSON_BETA = JSON.replace('"beta": false', '"beta": false,')


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "state"
    monkeypatch.setenv("DESKSIDE_AGENT_DIR", str(directory))
    return directory


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / "etc" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def config_set(
    path: Path, key: str, value: Any, dry_run: bool = False, **extra: Any
) -> ActionResult:
    params = catalogue.validate(
        "config.set", {"path": str(path), "key": key, "value": value, **extra}
    )
    return ACTIONS["config.set"](params, ActionContext(dry_run=dry_run))


def rollback(token: str | None, dry_run: bool = False) -> ActionResult:
    params = catalogue.validate("config.rollback", {"rollback": token})
    return ACTIONS["config.rollback"](params, ActionContext(dry_run=dry_run))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def replaced(text: str, old: str, new: str) -> list[str]:
    """text's lines with the one line `old` swapped for `new`: the whole expected edit."""
    out = text.splitlines()
    out[out.index(old)] = new
    return out


def inserted(text: str, after: str, *new: str) -> list[str]:
    out = text.splitlines()
    at = out.index(after) + 1
    return out[:at] + list(new) + out[at:]


def assert_rolls_back(path: Path, original: bytes, result: ActionResult) -> None:
    assert result.ok and result.changed and result.rollback
    undone = rollback(result.rollback)
    assert undone.ok and undone.changed, undone.error
    assert path.read_bytes() == original
    assert sha256(path.read_bytes()) == sha256(original)
    assert undone.evidence.after == {"path": str(path), "sha256": sha256(original)}


# --- each format: existing key, new key, new section or path; then rollback ------------


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("server.port", 9090, replaced(INI, "port = 8080", "port = 9090")),
        # An inline comment and its spacing stay; quotes stay quotes.
        (
            "server.host",
            "127.0.0.1",
            replaced(
                INI,
                "host = 0.0.0.0   ; listen everywhere",
                "host = 127.0.0.1   ; listen everywhere",
            ),
        ),
        (
            "server.name",
            "Back office",
            replaced(INI, 'name = "Front desk"', 'name = "Back office"'),
        ),
        # A new key goes after the section's last key, before the next section's comment.
        ("server.tls", True, inserted(INI, 'name = "Front desk"', "tls = true")),
        ("database.pool_size", 10, replaced(INI, "pool_size = 5", "pool_size = 10")),
        ("logging.level", "debug", [*INI.splitlines(), "", "[logging]", "level = debug"]),
    ],
)
def test_ini(tmp_path: Path, state: Path, key: str, value: Any, expected: list[str]) -> None:
    path = write(tmp_path, "app.ini", INI)
    result = config_set(path, key, value)
    assert result.ok, result.error
    assert lines(path) == expected
    assert result.data == {"path": str(path), "format": "ini", "key": key}
    assert_rolls_back(path, INI.encode(), result)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("GRUB_TIMEOUT", 10, replaced(GRUB, "GRUB_TIMEOUT=5", "GRUB_TIMEOUT=10")),
        (
            "GRUB_CMDLINE_LINUX_DEFAULT",
            "quiet splash nomodeset",
            replaced(
                GRUB,
                'GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"',
                'GRUB_CMDLINE_LINUX_DEFAULT="quiet splash nomodeset"',
            ),
        ),
        # At the end of the file; the file quotes values, so one with a space is quoted.
        (
            "GRUB_GFXMODE",
            "1024x768 640x480",
            [*GRUB.splitlines(), 'GRUB_GFXMODE="1024x768 640x480"'],
        ),
        # A commented-out default is a comment, not the key.
        ("GRUB_TERMINAL", "console", [*GRUB.splitlines(), "GRUB_TERMINAL=console"]),
    ],
)
def test_keyvalue_etc_default(
    tmp_path: Path, state: Path, key: str, value: Any, expected: list[str]
) -> None:
    path = write(tmp_path, "grub", GRUB)
    result = config_set(path, key, value)
    assert result.ok, result.error
    assert lines(path) == expected
    assert result.data["format"] == "keyvalue"
    assert_rolls_back(path, GRUB.encode(), result)


def test_keyvalue_keeps_the_files_separator_style(tmp_path: Path, state: Path) -> None:
    text = "# sysctl settings\nnet.ipv4.ip_forward = 0\nvm.swappiness = 60\n"
    path = write(tmp_path, "sysctl.conf", text)  # .conf without [sections]: keyvalue
    assert config_set(path, "net.ipv4.ip_forward", 1).ok
    assert config_set(path, "kernel.panic", 10).ok
    assert lines(path) == [
        "# sysctl settings",
        "net.ipv4.ip_forward = 1",
        "vm.swappiness = 60",
        "kernel.panic = 10",
    ]


def test_keyvalue_env_file_with_export(tmp_path: Path, state: Path) -> None:
    text = "export API_URL='https://old.example'  # prod\nexport DEBUG=0\n"
    path = write(tmp_path, ".env", text)
    assert config_set(path, "API_URL", "https://new.example").ok
    assert config_set(path, "DEBUG", False).ok
    assert lines(path) == ["export API_URL='https://new.example'  # prod", "export DEBUG=false"]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("server.port", 9090, replaced(YAML, "  port: 8080", "  port: 9090")),
        (
            "logging.level",
            "debug",
            replaced(
                YAML,
                "  level: info   # debug when chasing a ticket",
                "  level: debug   # debug when chasing a ticket",
            ),
        ),
        (
            "server.tls.cert",
            "/etc/ssl/new.pem",
            replaced(YAML, '    cert: "/etc/ssl/app.pem"', '    cert: "/etc/ssl/new.pem"'),
        ),
        (
            "logging.file",
            "/var/log/app.log",
            replaced(YAML, "  file: null", "  file: /var/log/app.log"),
        ),
        # New keys at the end of their mapping, at its indentation; nested ones created.
        ("server.workers", 4, inserted(YAML, '    cert: "/etc/ssl/app.pem"', "  workers: 4")),
        (
            "server.tls.verify",
            True,
            inserted(YAML, '    cert: "/etc/ssl/app.pem"', "    verify: true"),
        ),
        (
            "metrics.prometheus.port",
            9100,
            [*YAML.splitlines(), "metrics:", "  prometheus:", "    port: 9100"],
        ),
        # A string YAML 1.1 would read as a boolean is quoted.
        ("logging.color", "yes", inserted(YAML, "  file: null", "  color: 'yes'")),
    ],
)
def test_yaml(tmp_path: Path, state: Path, key: str, value: Any, expected: list[str]) -> None:
    path = write(tmp_path, "app.yaml", YAML)
    result = config_set(path, key, value)
    assert result.ok, result.error
    assert lines(path) == expected
    assert result.evidence.after["value"] == value
    assert_rolls_back(path, YAML.encode(), result)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("server.port", 9090, replaced(TOML, "port = 8080", "port = 9090")),
        (
            "server.host",
            "127.0.0.1",
            replaced(
                TOML,
                'host = "0.0.0.0" # listen everywhere',
                'host = "127.0.0.1" # listen everywhere',
            ),
        ),
        ("server.tls.enabled", True, replaced(TOML, "enabled = false", "enabled = true")),
        (
            "server.tls.cert",
            "/etc/ssl/app.pem",
            inserted(TOML, "enabled = false", 'cert = "/etc/ssl/app.pem"'),
        ),
        ("metrics.port", 9100, [*TOML.splitlines(), "", "[metrics]", "port = 9100"]),
    ],
)
def test_toml(tmp_path: Path, state: Path, key: str, value: Any, expected: list[str]) -> None:
    path = write(tmp_path, "agent.toml", TOML)
    result = config_set(path, key, value)
    assert result.ok, result.error
    assert lines(path) == expected
    assert_rolls_back(path, TOML.encode(), result)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("server.port", 9090, replaced(JSON, '    "port": 8080', '    "port": 9090')),
        # The line before an inserted one gains its comma: the only other change JSON needs.
        (
            "features.gamma",
            True,
            inserted(JSON_BETA, '    "beta": false,', '    "gamma": true'),
        ),
        (
            "features.limits.seats",
            None,
            inserted(
                JSON_BETA, '    "beta": false,', '    "limits": {', '      "seats": null', "    }"
            ),
        ),
    ],
)
def test_json(tmp_path: Path, state: Path, key: str, value: Any, expected: list[str]) -> None:
    path = write(tmp_path, "settings.json", JSON)
    result = config_set(path, key, value)
    assert result.ok, result.error
    assert lines(path) == expected
    assert_rolls_back(path, JSON.encode(), result)


# --- values keep their types --------------------------------------------------------------


@pytest.mark.parametrize("value", [9090, 1.5, True, False, "9090", "text"])
def test_structured_formats_keep_the_value_type(tmp_path: Path, state: Path, value: Any) -> None:
    from ruamel.yaml import YAML as RuamelYAML

    yaml_path = write(tmp_path, "app.yaml", YAML)
    toml_path = write(tmp_path, "agent.toml", TOML)
    json_path = write(tmp_path, "settings.json", JSON)
    for path in (yaml_path, toml_path, json_path):
        assert config_set(path, "server.port", value).ok
    loaded = [
        RuamelYAML(typ="safe").load(yaml_path.read_text()),
        tomllib.loads(toml_path.read_text()),
        json.loads(json_path.read_text()),
    ]
    for data in loaded:
        assert data["server"]["port"] == value
        assert type(data["server"]["port"]) is type(value)


def test_ini_and_keyvalue_write_text(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "app.ini", INI)
    assert config_set(path, "server.tls", False).ok
    assert config_set(path, "server.ratio", 0.5).ok
    assert "tls = false" in lines(path)
    assert "ratio = 0.5" in lines(path)


# --- dry run, no-op, backups -------------------------------------------------------------


def test_dry_run_writes_nothing_and_returns_the_diff(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "app.ini", INI)
    mtime = path.stat().st_mtime_ns
    result = config_set(path, "server.port", 9090, dry_run=True)
    assert result.ok and not result.changed and result.rollback is None
    assert "-port = 8080\n+port = 9090\n" in result.output
    assert result.output.startswith(f"--- {path}\n+++ {path}\n")
    assert result.evidence.before["value"] == "8080"
    assert result.evidence.after["value"] == "9090"
    assert path.read_bytes() == INI.encode()
    assert path.stat().st_mtime_ns == mtime
    assert not (state / "backups").exists() or not any((state / "backups").iterdir())


def test_same_value_changes_nothing(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "app.yaml", YAML)
    mtime = path.stat().st_mtime_ns
    result = config_set(path, "server.port", 8080)
    assert result.ok and not result.changed and result.rollback is None
    assert path.stat().st_mtime_ns == mtime
    assert not (state / "backups").exists()


def test_backup_and_sidecar(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "app.ini", INI)
    path.chmod(0o640)
    result = config_set(path, "server.port", 9090)
    token = result.rollback
    assert token and re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{8}", token)
    backup = state / "backups" / f"{token}.bak"
    assert backup.read_bytes() == INI.encode()
    assert backup.stat().st_mode & 0o777 == 0o600  # it may hold secrets
    record = json.loads((state / "backups" / f"{token}.json").read_text())
    assert record["path"] == str(path)
    assert record["sha256_before"] == sha256(INI.encode())
    assert record["sha256_after"] == sha256(path.read_bytes())
    assert record["mode"] == 0o640
    assert (record["uid"], record["gid"]) == (path.stat().st_uid, path.stat().st_gid)
    assert result.evidence.before == {
        "key": "server.port",
        "value": "8080",
        "sha256": sha256(INI.encode()),
    }
    assert result.evidence.after["sha256"] == sha256(path.read_bytes())
    assert "+port = 9090" in result.output


def test_mode_is_preserved_by_set_and_rollback(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "app.toml", TOML)
    path.chmod(0o640)
    result = config_set(path, "server.port", 9090)
    assert path.stat().st_mode & 0o7777 == 0o640
    assert rollback(result.rollback).ok
    assert path.stat().st_mode & 0o7777 == 0o640
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temp files left


def test_a_symlink_stays_a_symlink(tmp_path: Path, state: Path) -> None:
    target = write(tmp_path, "real.ini", INI)
    link = tmp_path / "etc" / "link.ini"
    link.symlink_to(target)
    result = config_set(link, "server.port", 9090)
    assert result.ok and link.is_symlink()
    assert "port = 9090" in lines(target)
    assert_rolls_back(target, INI.encode(), result)
    assert link.is_symlink()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to someone else")
def test_owner_is_preserved_by_set_and_rollback(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "app.ini", INI)
    os.chown(path, 1234, 5678)
    result = config_set(path, "server.port", 9090)
    assert (path.stat().st_uid, path.stat().st_gid) == (1234, 5678)
    assert rollback(result.rollback).ok
    assert (path.stat().st_uid, path.stat().st_gid) == (1234, 5678)


def test_a_failed_write_leaves_the_file_and_no_backup(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "app.ini", INI)

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied", dst)

    monkeypatch.setattr(os, "replace", refuse)
    result = config_set(path, "server.port", 9090)
    assert result.error and result.error.code == "permission_denied"
    assert path.read_bytes() == INI.encode()
    assert [p.name for p in path.parent.iterdir()] == ["app.ini"]  # the temp file is gone
    assert not any((state / "backups").iterdir())


def test_a_change_made_during_the_edit_is_not_overwritten(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalogue.config_edit import formats as config_formats

    path = write(tmp_path, "app.ini", INI)
    real_edit = config_formats.edit
    theirs = INI.replace("pool_size = 5", "pool_size = 6").encode()

    def edit_while_someone_writes(*args: Any) -> config_formats.Edit:
        path.write_bytes(theirs)
        return real_edit(*args)

    monkeypatch.setattr(config_formats, "edit", edit_while_someone_writes)
    result = config_set(path, "server.port", 9090)
    assert result.error and result.error.code == "conflict"
    assert path.read_bytes() == theirs
    assert not any((state / "backups").iterdir())


# --- rollback ----------------------------------------------------------------------------


def test_rollback_twice_is_a_no_op(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "settings.json", JSON)
    result = config_set(path, "server.port", 1)
    assert_rolls_back(path, JSON.encode(), result)
    again = rollback(result.rollback)
    assert again.ok and not again.changed
    assert path.read_bytes() == JSON.encode()


def test_rollback_refuses_when_the_file_changed_since(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "app.yaml", YAML)
    result = config_set(path, "server.port", 9090)
    someone_else = path.read_text().replace("level: info", "level: warning").encode()
    path.write_bytes(someone_else)
    refused = rollback(result.rollback)
    assert refused.error and refused.error.code == "conflict"
    assert not refused.changed
    assert path.read_bytes() == someone_else


def test_rollback_dry_run_shows_the_restore(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "app.ini", INI)
    result = config_set(path, "server.port", 9090)
    edited = path.read_bytes()
    preview = rollback(result.rollback, dry_run=True)
    assert preview.ok and not preview.changed
    assert "-port = 9090\n+port = 8080\n" in preview.output
    assert path.read_bytes() == edited


def test_rollback_of_an_unknown_token(state: Path) -> None:
    result = rollback("20240101T000000-deadbeef")
    assert result.error and result.error.code == "not_found"


def test_rollback_refuses_a_tampered_backup(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "app.ini", INI)
    result = config_set(path, "server.port", 9090)
    (state / "backups" / f"{result.rollback}.bak").write_bytes(b"[evil]\n")
    refused = rollback(result.rollback)
    assert refused.error and refused.error.code == "failed"
    assert "port = 9090" in lines(path)


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "key"),
    [
        ("bad.ini", "[server\nport = 1\n", "server.port"),
        ("bad.ini", "port = 1\n[server]\n", "server.port"),
        ("bad.json", '{\n  "server": {"port" 1}\n}\n', "server.port"),
        ("bad.yaml", "server:\n  port: [1\n  host: x\n", "server.port"),
        ("bad.toml", "[server]\nport = \n", "server.port"),
        ("bad.toml", "[server]\n[server]\n", "server.port"),
    ],
)
def test_parse_errors(tmp_path: Path, state: Path, name: str, text: str, key: str) -> None:
    path = write(tmp_path, name, text)
    result = config_set(path, key, 2)
    assert result.error and result.error.code == "parse_error", result.error
    assert "line" in result.error.message
    assert path.read_text() == text


def test_missing_file_and_directory(tmp_path: Path, state: Path) -> None:
    missing = config_set(tmp_path / "nope.ini", "a.b", 1)
    assert missing.error and missing.error.code == "not_found"
    directory = config_set(tmp_path, "a.b", 1, format="ini")
    assert directory.error and directory.error.code == "not_found"


def test_too_large(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "huge.conf", b"")
    with path.open("r+b") as f:
        f.truncate(10 * 2**20 + 1)
    result = config_set(path, "a", 1)
    assert result.error and result.error.code == "too_large"


@pytest.mark.parametrize(
    ("name", "text", "key", "value"),
    [
        ("app.ini", INI, "port", 1),  # INI keys need a section
        ("settings.json", '{"a": [1, 2]}', "a", 1),  # would replace a list
        ("settings.json", '{"a": 1}', "a.b", 1),  # 1 is not a mapping
        ("app.yaml", YAML, "server.tls", 1),  # would replace a mapping
        ("agent.toml", TOML, "server.port", None),  # TOML has no null
        ("agent.toml", TOML, "upstream.name", "b"),  # an array of tables
        ("grub", GRUB, "TWO WORDS", 1),
    ],
)
def test_bad_keys_for_the_format(
    tmp_path: Path, state: Path, name: str, text: str, key: str, value: Any
) -> None:
    path = write(tmp_path, name, text)
    result = config_set(path, key, value)
    assert result.error and result.error.code == "invalid_params", result.error
    assert path.read_text() == text


def test_unreadable_file(tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 0 stops nobody when the tests run as root (as in CI): refuse the read instead.
    from agent.actions import config as config_module

    path = write(tmp_path, "secret.ini", INI)

    def refuse(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return open(file, *args, **kwargs)

    monkeypatch.setattr(config_module, "open", refuse, raising=False)
    result = config_set(path, "server.port", 1)
    assert result.error and result.error.code == "permission_denied"
    assert path.read_text() == INI


def test_unknown_format_is_refused() -> None:
    with pytest.raises(catalogue.CatalogueError, match="format"):
        catalogue.validate(
            "config.set", {"path": "/etc/x", "key": "a", "value": 1, "format": "xml"}
        )
    from catalogue.config_edit.formats import BadKey, edit

    with pytest.raises(BadKey, match="format"):
        edit("xml", "", "a", 1)


# --- details that keep the edit minimal --------------------------------------------------


def test_crlf_bom_and_missing_final_newline_survive(tmp_path: Path, state: Path) -> None:
    original = "\ufeff[server]\r\nport = 1\r\n\r\n[other]\r\nx = 2".encode()
    path = write(tmp_path, "win.ini", original)
    result = config_set(path, "server.port", 2)
    assert path.read_bytes() == "\ufeff[server]\r\nport = 2\r\n\r\n[other]\r\nx = 2".encode()
    assert_rolls_back(path, original, result)
    result = config_set(path, "other.y", 3)
    assert path.read_bytes().endswith(b"x = 2\r\ny = 3\r\n")
    assert_rolls_back(path, original, result)


def test_bytes_that_are_not_utf8_are_kept(tmp_path: Path, state: Path) -> None:
    original = "# Zürich office\nLANG=de_CH\n".encode("latin-1")
    path = write(tmp_path, "locale", original)
    result = config_set(path, "LANG", "fr_CH")
    assert path.read_bytes() == "# Zürich office\nLANG=fr_CH\n".encode("latin-1")
    assert_rolls_back(path, original, result)


def test_ini_duplicates_and_continuations(tmp_path: Path, state: Path) -> None:
    text = "[a]\nx = 1\nx = 2\nlong = first\n  second\n[b]\nx = 3\n"
    path = write(tmp_path, "dup.cfg", text)
    result = config_set(path, "a.x", 9)  # the last one is the one readers use
    assert lines(path) == ["[a]", "x = 1", "x = 9", "long = first", "  second", "[b]", "x = 3"]
    assert result.evidence.before["value"] == "2"
    result = config_set(path, "a.long", "short")
    assert lines(path) == ["[a]", "x = 1", "x = 9", "long = short", "[b]", "x = 3"]
    assert result.evidence.before["value"] == "first\nsecond"


def test_ini_section_names_with_dots(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "dots.ini", "[php]\nsession.save_path = /tmp\n[a.b]\nc = 1\n")
    assert config_set(path, "php.session.save_path", "/var/lib/php").ok
    assert config_set(path, "a.b.c", 2).ok
    assert lines(path) == ["[php]", "session.save_path = /var/lib/php", "[a.b]", "c = 2"]


def test_keyvalue_multiline_value_is_not_edited(tmp_path: Path, state: Path) -> None:
    text = 'OPTS="--a\n  --b"\nOTHER=1\n'
    path = write(tmp_path, "daemon", text)
    assert config_set(path, "OTHER", 2).ok
    refused = config_set(path, "OPTS", "--c")
    assert refused.error and refused.error.code == "parse_error"


def test_yaml_document_marker_and_empty_value(tmp_path: Path, state: Path) -> None:
    text = "---\n# top\nempty:\nafter: 1\n"
    path = write(tmp_path, "x.yml", text)
    assert config_set(path, "empty", "set").ok
    assert lines(path) == ["---", "# top", "empty: set", "after: 1"]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("/etc/app.ini", "", "ini"),
        ("/etc/app.cfg", "", "ini"),
        ("/etc/smb.conf", "# c\n[global]\nx = 1\n", "ini"),
        ("/etc/sysctl.conf", "vm.swappiness = 10\n", "keyvalue"),
        ("/etc/app.json", "", "json"),
        ("/etc/app.yaml", "", "yaml"),
        ("/etc/app.YML", "", "yaml"),
        ("/etc/app.toml", "", "toml"),
        ("/etc/default/grub", "", "keyvalue"),
        ("/srv/app/.env", "", "keyvalue"),
    ],
)
def test_format_inference(name: str, text: str, expected: str) -> None:
    assert infer(name, text) == expected


def test_format_parameter_overrides_the_extension(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, "app.service", "[Service]\nRestart=no\n")
    result = config_set(path, "Service.Restart", "always", format="ini")
    assert result.ok and lines(path) == ["[Service]", "Restart=always"]


def test_the_idle_agent_does_not_load_the_format_libraries() -> None:
    code = (
        "import sys, agent.actions;"
        "assert 'config.set' in agent.actions.IMPLEMENTATIONS;"
        "print([m for m in ('ruamel', 'ruamel.yaml', 'tomlkit') if m in sys.modules])"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
