"""user.unlock / user.reset_password on a real throwaway account; time.sync and
system.reboot in dry-run only (one would move this machine's clock, the other restart it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import require_or_skip

import catalogue
from agent.actions import accounts, machine
from agent.actions.context import ActionContext

USER = "ds-test-user"


@pytest.fixture
def account() -> Iterator[str]:
    require_or_skip(None if os.geteuid() == 0 else "creating a local account needs root")
    require_or_skip(None if shutil.which("useradd") else "useradd (passwd package) is missing")
    # -f: a uid reused from an account deleted under a running process must not stop us.
    subprocess.run(["userdel", "-f", USER], capture_output=True)
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True
    )
    subprocess.run(["chpasswd"], input=f"{USER}:an initial passphrase\n", text=True, check=True)
    try:
        yield USER
    finally:
        subprocess.run(["userdel", "-f", USER], capture_output=True)


def _shadow(user: str) -> str:
    return next(
        line for line in Path("/etc/shadow").read_text().splitlines() if line.startswith(f"{user}:")
    )


def test_unlock_a_locked_account(account: str) -> None:
    subprocess.run(["usermod", "--lock", account], check=True)
    assert _shadow(account).split(":")[1].startswith("!")
    params = catalogue.validate("user.unlock", {"username": account})
    dry = accounts.unlock(params, ActionContext(dry_run=True))
    assert dry.ok and not dry.changed and _shadow(account).split(":")[1].startswith("!")
    result = accounts.unlock(params, ActionContext())
    assert result.ok and result.changed, result
    assert result.evidence.before["password_status"] == "locked"
    assert result.evidence.after["password_status"] == "usable"
    assert not _shadow(account).split(":")[1].startswith("!")
    again = accounts.unlock(params, ActionContext())
    assert again.ok and not again.changed and "not locked" in again.output


def test_reset_password_changes_the_hash_and_never_shows_the_password(account: str) -> None:
    secret = "Br4nd new passphrase!"
    before = _shadow(account)
    params = catalogue.validate("user.reset_password", {"username": account, "password": secret})
    result = accounts.reset_password(params, ActionContext())
    assert result.ok and result.changed
    assert _shadow(account) != before
    assert secret not in result.model_dump_json()


def test_unknown_accounts_are_not_found() -> None:
    params = catalogue.validate("user.unlock", {"username": "no-such-user-here"})
    result = accounts.unlock(params, ActionContext())
    assert result.error is not None and result.error.code == "not_found"


def test_reboot_dry_run_says_the_command_and_does_nothing() -> None:
    params = catalogue.validate("system.reboot", {"delay_s": 90, "message": "patching"})
    result = machine.system_reboot(params, ActionContext(dry_run=True))
    assert result.ok and not result.changed
    assert result.data["argv"] == ["shutdown", "-r", "+2", "patching"]
    assert machine.reboot_argv(0, "now", "win32") == ["shutdown", "/r", "/t", "0", "/c", "now"]


def test_time_sync_chooses_a_tool_or_says_there_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        shutil, "which", lambda name: "/usr/bin/" + name if name == "chronyc" else None
    )
    assert machine.sync_argv(None, "linux") == ["chronyc", "-a", "makestep"]
    monkeypatch.setattr(
        shutil, "which", lambda name: "/usr/bin/ntpdate" if name == "ntpdate" else None
    )
    assert machine.sync_argv("ntp.example", "linux") == ["ntpdate", "-b", "ntp.example"]
    assert machine.sync_argv("ntp.example:123", "linux") == ["ntpdate", "-b", "ntp.example"]
    assert machine.sync_argv("[::1]", "linux") == ["ntpdate", "-b", "::1"]
    assert machine.sync_argv("ntp.example:1123", "linux") is None, "ntpdate cannot take a port"
    assert machine.sync_argv(None, "linux") is None
    assert machine.sync_argv(None, "win32") == ["w32tm", "/resync", "/force"]
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = machine.time_sync(catalogue.validate("time.sync", {}), ActionContext(dry_run=True))
    assert result.error is not None and result.error.code == "not_supported"
