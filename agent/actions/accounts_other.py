"""user.unlock and user.reset_password on Windows (local SAM accounts) and macOS (local node).

Each platform has command builders and pure parsers, so the parsers are tested on recorded
outputs. Neither has been run against a real Windows or macOS machine.

Windows: PowerShell's LocalAccounts cmdlets, as in services_other the user name is never
part of the script text: a fixed scriptblock with ``param($n)`` gets it as a single-quoted
literal argument. Status is ``Get-LocalUser`` (Enabled, PasswordLastSet) plus
``Win32_UserAccount.Lockout`` (the lockout after too many bad passwords, which
``Get-LocalUser`` does not show). Unlocking is two separate things there:
``Enable-LocalUser`` clears "account is disabled" (as ``net user X /active:yes`` would),
and the lockout is cleared through the WinNT ADSI provider by setting ``IsAccountLocked``
to false, the way Microsoft documents it ("Account Lockout (WinNT Provider)"). A disabled
built-in account (Administrator, Guest, DefaultAccount, WDAGUtilityAccount: RIDs 500, 501,
503, 504) is not enabled: Windows keeps them off on purpose. The new password goes to
``Set-LocalUser`` on standard input, base64 of its UTF-8 bytes (so neither the console code
page nor Python's ANSI encoding of the pipe can change a character), read with
``[Console]::In`` and made a SecureString; it is never in an argument list. The
LocalAccounts module needs 64-bit Windows PowerShell 5.1 (it is missing from the 32-bit
one): without it the commands fail with PowerShell's own message.

macOS: status is ``dscl . -read`` of the local node (UniqueID, AuthenticationAuthority,
whose ``;DisabledUser;`` marks an account disabled, and accountPolicyData with
failedLoginCount and passwordLastSetTime) plus ``pwpolicy -authentication-allowed``, the
system's own answer on whether the account may log in. Unlocking is
``pwpolicy -enableuser``, documented as "enable a user account that was disabled by a
password policy event"; pwpolicy has no command that clears the failed-login count, and
accountPolicyData is not edited by hand. Whether it worked is read back: a lockout that
``-enableuser`` does not lift (one that ends at the policy's reset time, or a password
that must be changed) ends in ``still_locked`` with pwpolicy's reason. Accounts with a
UniqueID below 500 (system accounts) are not touched. Setting a password is not supported:
``dscl -passwd`` and ``sysadminctl -resetPasswordFor ... -newPassword`` take the password
as an argument, visible to every local user in ``ps``; sysadminctl's ``-`` prompt needs a
terminal, which this agent does not have; and a reset by root alone either fails or leaves
a secure-token (FileVault) user's password out of step.
"""

from __future__ import annotations

import base64
import plistlib
import subprocess
from datetime import UTC, datetime
from typing import Any

from agent.actions.context import ActionContext
from agent.actions.services_other import powershell_with_name
from catalogue.probes.powershell import as_str, load_json_rows


class AccountError(Exception):
    """An account could not be read or changed; ``code`` is the result's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Windows -----------------------------------------------------------------------------

WIN_NOT_FOUND_EXIT = 3
WIN_PASSWORD_REJECTED_EXIT = 4
WIN_ACCESS_DENIED_EXIT = 5
_WIN_CODES = {
    WIN_NOT_FOUND_EXIT: "not_found",
    WIN_PASSWORD_REJECTED_EXIT: "password_rejected",
    WIN_ACCESS_DENIED_EXIT: "permission_denied",
}
# Relative ids of the built-in accounts Windows ships disabled.
_WIN_BUILTIN_RIDS = {"500", "501", "503", "504"}

# Every script finds the account by exact name (Get-LocalUser -Name takes wildcards), then
# acts on its SID. Errors become one line on stderr and an exit status the caller maps.
_WIN_BEGIN = (
    "& { param($n) "
    "[Console]::OutputEncoding = [System.Text.Encoding]::UTF8; "
    "$ProgressPreference = 'SilentlyContinue'; $ErrorActionPreference = 'Stop'; "
    "try { $u = Get-LocalUser | Where-Object Name -eq $n | Select-Object -First 1; "
    f"if ($null -eq $u) {{ exit {WIN_NOT_FOUND_EXIT} }}; "
)
_WIN_END = (
    " } catch { [Console]::Error.WriteLine($_.Exception.Message); "
    "$id = [string]$_.FullyQualifiedErrorId; "
    f"if ($id -like 'InvalidPassword,*') {{ exit {WIN_PASSWORD_REJECTED_EXIT} }}; "
    "if ($id -like 'AccessDenied,*' -or [string]$_.CategoryInfo.Category -eq 'PermissionDenied')"
    f" {{ exit {WIN_ACCESS_DENIED_EXIT} }}; exit 1 }} }}"
)
_WIN_STATUS = (
    "$c = Get-CimInstance -ClassName Win32_UserAccount -Filter 'LocalAccount=TRUE'"
    " | Where-Object SID -eq $u.SID.Value | Select-Object -First 1; "
    "if ($null -eq $c) { throw 'Win32_UserAccount does not list this account' }; "
    "$t = $null; if ($null -ne $u.PasswordLastSet) "
    "{ $t = $u.PasswordLastSet.ToUniversalTime().ToString('s') + 'Z' }; "
    "[pscustomobject]@{ Name = $u.Name; SID = $u.SID.Value; Enabled = [bool]$u.Enabled; "
    "LockedOut = [bool]$c.Lockout; PasswordLastSet = $t } | ConvertTo-Json"
)
_WIN_CLEAR = {
    "disabled": "Enable-LocalUser -SID $u.SID",
    "locked_out": (
        "$a = ([ADSI]('WinNT://' + $env:COMPUTERNAME + ',computer'))"
        ".psbase.Children.Find($u.Name, 'user'); "
        "$a.psbase.InvokeSet('IsAccountLocked', $false); $a.psbase.CommitChanges()"
    ),
}
_WIN_RESET_SCRIPT = (
    "$b = [Console]::In.ReadLine(); "
    "if ([string]::IsNullOrWhiteSpace($b)) { throw 'no password on standard input' }; "
    "$p = ConvertTo-SecureString -AsPlainText -Force -String "
    "([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($b.Trim()))); "
    "Set-LocalUser -SID $u.SID -Password $p"
)
WINDOWS_LOCKS = {"disabled": "account disabled", "locked_out": "locked out by bad passwords"}


def _windows_argv(body: str, username: str) -> list[str]:
    return powershell_with_name(_WIN_BEGIN + body + _WIN_END, username)


def windows_status_argv(username: str) -> list[str]:
    return _windows_argv(_WIN_STATUS, username)


def windows_clear_argv(lock: str, username: str) -> list[str]:
    return _windows_argv(_WIN_CLEAR[lock], username)


def windows_password_argv(username: str) -> list[str]:
    return _windows_argv(_WIN_RESET_SCRIPT, username)


def windows_password_stdin(password: str) -> str:
    return base64.b64encode(password.encode("utf-8")).decode("ascii") + "\n"


def _windows_error(returncode: int, stderr: str) -> tuple[str, str]:
    message = stderr.strip()[:500] or f"powershell exited with {returncode}"
    return _WIN_CODES.get(returncode, "command_failed"), message


def windows_failure(done: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    return _windows_error(done.returncode, done.stderr)


def parse_windows_status(
    username: str, stdout: str, stderr: str, returncode: int
) -> dict[str, Any]:
    """Read the status script's output: one object as JSON, or an exit status to map."""
    if returncode != 0:
        code, message = _windows_error(returncode, stderr)
        if code == "not_found":
            message = f"no local account named {username}"
        raise AccountError(code, message)
    rows = load_json_rows(stdout)
    row = rows[0] if rows else {}
    enabled, locked = row.get("Enabled"), row.get("LockedOut")
    if not isinstance(enabled, bool) or not isinstance(locked, bool):
        raise AccountError("parse_error", f"unreadable account status: {stdout.strip()[:200]!r}")
    return {
        "username": as_str(row.get("Name")) or username,
        "sid": as_str(row.get("SID")),
        "enabled": enabled,
        "locked_out": locked,
        "password_last_set": as_str(row.get("PasswordLastSet")),
    }


def windows_status(username: str, ctx: ActionContext) -> dict[str, Any]:
    done = ctx.run(windows_status_argv(username))
    return parse_windows_status(username, done.stdout, done.stderr, done.returncode)


def windows_locks(status: dict[str, Any]) -> list[str]:
    """What keeps the account out, in the order unlock clears it."""
    locks = [] if status["enabled"] else ["disabled"]
    return locks + (["locked_out"] if status["locked_out"] else [])


def windows_refusal(status: dict[str, Any], locks: list[str]) -> str | None:
    rid = (status.get("sid") or "").rsplit("-", 1)[-1]
    if "disabled" in locks and rid in _WIN_BUILTIN_RIDS:
        return (
            f"{status['username']} is a built-in account Windows keeps disabled; "
            "it is not enabled from here"
        )
    return None


def windows_clear(lock: str, username: str, ctx: ActionContext) -> subprocess.CompletedProcess[str]:
    return ctx.run(windows_clear_argv(lock, username))


def windows_set_password(
    username: str, password: str, ctx: ActionContext
) -> subprocess.CompletedProcess[str]:
    return ctx.run(windows_password_argv(username), stdin=windows_password_stdin(password))


# --- macOS -------------------------------------------------------------------------------

MACOS_LOCKS = {"disabled": "not allowed to authenticate"}
MACOS_NO_RESET = (
    "setting a password is not supported on macOS: dscl and sysadminctl take the new "
    "password as an argument, where every local user can read it, and a reset by root "
    "alone does not keep a FileVault (secure token) password in step; use System "
    "Settings or the MDM"
)
_MAC_FIRST_USER_UID = 500
_MAC_PREFIXES = ("dsAttrTypeNative:", "dsAttrTypeStandard:")
_MAC_NODE = ("-n", "/Local/Default")


def macos_read_argv(username: str) -> list[str]:
    return [
        "dscl",
        ".",
        "-read",
        f"/Users/{username}",
        "RecordName",
        "UniqueID",
        "AuthenticationAuthority",
        "accountPolicyData",
    ]


def macos_policy_argv(username: str) -> list[str]:
    return ["pwpolicy", "-u", username, *_MAC_NODE, "-authentication-allowed"]


def macos_enable_argv(username: str) -> list[str]:
    return ["pwpolicy", "-u", username, *_MAC_NODE, "-enableuser"]


def _unprefixed(line: str) -> str:
    for prefix in _MAC_PREFIXES:
        if line.startswith(prefix):
            return line[len(prefix) :]
    return line


def _dscl_attributes(text: str) -> dict[str, list[str]]:
    """``Key: value`` lines, or ``Key:`` followed by lines indented by one space."""
    found: dict[str, list[str]] = {}
    values: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(" "):
            if values is not None:
                values.append(line[1:])
            continue
        key, colon, rest = _unprefixed(line).partition(":")
        values = found.setdefault(key.strip(), []) if colon else None
        if values is not None and rest.strip():
            values.append(rest.strip())
    return found


def _policy_data(lines: list[str]) -> dict[str, Any]:
    try:
        data = plistlib.loads("\n".join(lines).strip().encode("utf-8"))
    except (plistlib.InvalidFileException, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def parse_dscl_user(username: str, stdout: str, stderr: str, returncode: int) -> dict[str, Any]:
    """Read ``dscl . -read /Users/<name> RecordName UniqueID AuthenticationAuthority
    accountPolicyData``. A key the record lacks is left out by dscl, not an error here."""
    if "eDSRecordNotFound" in stdout + stderr:
        raise AccountError("not_found", f"no local account named {username}")
    attrs = _dscl_attributes(stdout)
    names = " ".join(attrs.get("RecordName", [])).split()
    if not names:
        message = stderr.strip()[:500] or f"dscl exited with {returncode}"
        raise AccountError("command_failed" if returncode else "parse_error", message)
    uid_text = "".join(attrs.get("UniqueID", [])).strip()
    policy = _policy_data(attrs.get("accountPolicyData", []))
    failed = policy.get("failedLoginCount")
    last_set = policy.get("passwordLastSetTime")
    return {
        "username": names[0],
        "uid": int(uid_text) if uid_text.lstrip("-").isdigit() else None,
        "disabled": "DisabledUser" in " ".join(attrs.get("AuthenticationAuthority", [])),
        "failed_logins": failed if isinstance(failed, int) else None,
        "password_last_set": _stamp(last_set) if isinstance(last_set, int | float) else None,
    }


def parse_authentication_allowed(stdout: str, stderr: str) -> tuple[bool, str]:
    """pwpolicy's answer is prose: "... is not allowed to authenticate: <reason>" or a
    sentence saying the policy allows the user to authenticate."""
    text = " ".join((stdout + "\n" + stderr).split())
    lowered = text.lower()
    if "not allowed" in lowered or "does not allow" in lowered:
        return False, text[:300]
    if "allows user" in lowered or "is allowed" in lowered:
        return True, text[:300]
    raise AccountError("parse_error", f"unreadable pwpolicy answer: {text[:200]!r}")


def macos_status(username: str, ctx: ActionContext) -> dict[str, Any]:
    read = ctx.run(macos_read_argv(username))
    status = parse_dscl_user(username, read.stdout, read.stderr, read.returncode)
    asked = ctx.run(macos_policy_argv(username))
    allowed, said = parse_authentication_allowed(asked.stdout, asked.stderr)
    return {**status, "authentication_allowed": allowed, "policy": said}


def macos_locks(status: dict[str, Any]) -> list[str]:
    return ["disabled"] if status["disabled"] or not status["authentication_allowed"] else []


def macos_refusal(status: dict[str, Any], locks: list[str]) -> str | None:
    uid = status.get("uid")
    if uid is not None and uid < _MAC_FIRST_USER_UID:
        return f"{status['username']} is a system account (uid {uid}); it is not touched"
    return None


def macos_clear(lock: str, username: str, ctx: ActionContext) -> subprocess.CompletedProcess[str]:
    return ctx.run(macos_enable_argv(username))
