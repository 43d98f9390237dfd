"""user.unlock / user.reset_password on Windows and macOS: commands and parsers on recorded
outputs, and the whole actions with every command answered by a recording. Nothing here
ran on Windows or macOS.

Windows recordings are what Windows PowerShell 5.1 prints for the status script's
``[pscustomobject] | ConvertTo-Json`` (two spaces after each colon, CRLF), and the
one-line messages the scripts write to stderr before their exit status. macOS recordings
follow ``dscl . -read`` (``Key: value``, or ``Key:`` and lines indented by one space, the
accountPolicyData plist among them) and pwpolicy's prose. The refusal line of
``pwpolicy -authentication-allowed`` is as published ("User ... is not allowed to
authenticate: ..."); the only published trace of its "allowed" answer is a tool matching
"Policy allows user", so that line's remainder is an assumption.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable

import pytest

import catalogue
from agent.actions import accounts
from agent.actions.accounts_other import (
    MACOS_NO_RESET,
    AccountError,
    macos_enable_argv,
    macos_policy_argv,
    macos_read_argv,
    parse_authentication_allowed,
    parse_dscl_user,
    parse_windows_status,
    windows_clear_argv,
    windows_password_argv,
    windows_password_stdin,
    windows_status_argv,
)
from agent.actions.context import ActionContext

Reply = tuple[int, str, str]  # returncode, stdout, stderr
SECRET = "Spring 2024! ünïcødé"


def ps_json(**fields: object) -> str:
    """An object as Windows PowerShell 5.1's ConvertTo-Json lays it out."""
    body = ",\r\n".join(
        f'    "{k}":  {json.dumps(v, ensure_ascii=False)}' for k, v in fields.items()
    )
    return "{\r\n" + body + "\r\n}\r\n"


def win_user(enabled: bool = True, locked: bool = False, **extra: object) -> str:
    fields: dict[str, object] = {
        "Name": "jdoe",
        "SID": "S-1-5-21-1004336348-1177238915-682003330-1001",
        "Enabled": enabled,
        "LockedOut": locked,
        "PasswordLastSet": "2024-03-05T09:12:44Z",
    }
    return ps_json(**{**fields, **extra})


WIN_GUEST = win_user(
    enabled=False, Name="Guest", SID="S-1-5-21-1004336348-1177238915-682003330-501"
)
WIN_MODULE_MISSING = (
    "The term 'Get-LocalUser' is not recognized as the name of a cmdlet, function, script "
    "file, or operable program. Check the spelling of the name, or if a path was included, "
    "verify that the path is correct and try again.\r\n"
)
WIN_POLICY_REFUSED = (
    "Unable to update the password. The value provided for the new password does not meet "
    "the length, complexity, or history requirements of the domain.\r\n"
)


def policy_data(failed: int, last_set: str = "1709630000.2127581") -> str:
    return (
        ' <?xml version="1.0" encoding="UTF-8"?>\n'
        ' <!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN"'
        ' "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
        ' <plist version="1.0">\n'
        " <dict>\n"
        " \t<key>creationTime</key>\n"
        " \t<real>1698316482.4311881</real>\n"
        " \t<key>failedLoginCount</key>\n"
        f" \t<integer>{failed}</integer>\n"
        " \t<key>failedLoginTimestamp</key>\n"
        f" \t<integer>{1717405023 if failed else 0}</integer>\n"
        " \t<key>passwordLastSetTime</key>\n"
        f" \t<real>{last_set}</real>\n"
        " </dict>\n"
        " </plist>\n"
    )


def dscl_user(name: str = "jdoe", uid: int = 501, failed: int = 0, disabled: bool = False) -> str:
    marker = ";DisabledUser;" if disabled else ""
    return (
        "dsAttrTypeNative:accountPolicyData:\n"
        + policy_data(failed)
        + f"AuthenticationAuthority: {marker};ShadowHash;HASHLIST:<SALTED-SHA512-PBKDF2,"
        "SRP-RFC5054-4096-SHA512-PBKDF2> ;Kerberosv5;;"
        f"{name}@LKDC:SHA1.6D2F8E0C1B4A9F7E3D5C2B1A0F9E8D7C6B5A4F3E;"
        "LKDC:SHA1.6D2F8E0C1B4A9F7E3D5C2B1A0F9E8D7C6B5A4F3E; ;SecureToken;\n"
        f"RecordName: {name}\n"
        f"UniqueID: {uid}\n"
    )


DSCL_NOT_FOUND = "<dscl_cmd> DS Error: -14136 (eDSRecordNotFound)\n"
PW_ALLOWED = "Policy allows user to authenticate\n"
PW_DISABLED = "User jdoe is not allowed to authenticate: account is disabled\n"
PW_LOCKED = (
    "User jdoe is not allowed to authenticate: Failed record policy "
    '"ProfilePayload:3599cd6c-6229-3bd5-a280-2bf6389cf6ca:minutesUntilFailedLoginReset"\n'
)


class Recorded(ActionContext):
    """Answers each command from a function of its argv; keeps the argv and stdin given."""

    def __init__(self, answer: Callable[[list[str]], Reply], dry_run: bool = False) -> None:
        super().__init__(dry_run=dry_run)
        self.answer = answer
        self.calls: list[list[str]] = []
        self.stdins: list[str | None] = []

    def run(
        self, argv: list[str], timeout: float = 60.0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        self.stdins.append(stdin)
        code, out, err = self.answer(argv)
        return subprocess.CompletedProcess(argv, code, out, err)


def act(name: str, ctx: ActionContext, **params: str) -> catalogue.ActionResult:
    result: catalogue.ActionResult = accounts.ACTIONS[name](catalogue.validate(name, params), ctx)
    return result


@pytest.fixture
def on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")


@pytest.fixture
def on_macos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")


# --- Windows: commands and parser ----------------------------------------------------------


def test_windows_scripts_take_the_name_as_an_argument_and_never_the_password() -> None:
    built = [
        windows_status_argv("jdoe"),
        windows_clear_argv("disabled", "jdoe"),
        windows_clear_argv("locked_out", "jdoe"),
        windows_password_argv("jdoe"),
    ]
    for argv in built:
        assert argv[:4] == ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command"]
        assert len(argv) == 6 and argv[5] == "'jdoe'"
        script = argv[4]
        assert script.startswith("& { param($n) ") and script.endswith("}")
        assert "jdoe" not in script and '"' not in script
        assert script.count("{") == script.count("}") and script.count("(") == script.count(")")
        # Found by exact name, acted on by SID: Get-LocalUser -Name would take wildcards.
        assert "Where-Object Name -eq $n" in script and "-Name $n" not in script
    assert "Win32_UserAccount" in built[0][4] and "ConvertTo-Json" in built[0][4]
    assert "Enable-LocalUser -SID $u.SID" in built[1][4]
    assert "InvokeSet('IsAccountLocked', $false)" in built[2][4]
    assert "[Console]::In.ReadLine()" in built[3][4] and "Set-LocalUser -SID" in built[3][4]
    assert windows_status_argv("o'brien")[5] == "'o''brien'"


def test_windows_password_goes_in_as_base64_of_utf8() -> None:
    line = windows_password_stdin(SECRET)
    assert line.endswith("\n") and line.isascii()
    assert base64.b64decode(line.strip()).decode("utf-8") == SECRET


def test_windows_status_reads_enabled_lockout_and_password_age() -> None:
    found = parse_windows_status("JDOE", win_user(locked=True), "", 0)
    assert found == {
        "username": "jdoe",
        "sid": "S-1-5-21-1004336348-1177238915-682003330-1001",
        "enabled": True,
        "locked_out": True,
        "password_last_set": "2024-03-05T09:12:44Z",
    }
    bom = "\ufeff" + win_user(enabled=False, PasswordLastSet=None)
    found = parse_windows_status("jdoe", bom, "", 0)
    assert (found["enabled"], found["password_last_set"]) == (False, None)


@pytest.mark.parametrize(
    ("returncode", "stderr", "code", "message"),
    [
        (3, "", "not_found", "no local account named ghost"),
        (5, "Access denied.\r\n", "permission_denied", "Access denied."),
        (1, WIN_MODULE_MISSING, "command_failed", WIN_MODULE_MISSING.strip()),
        (1, "", "command_failed", "powershell exited with 1"),
    ],
)
def test_windows_status_failures(returncode: int, stderr: str, code: str, message: str) -> None:
    with pytest.raises(AccountError) as raised:
        parse_windows_status("ghost", "", stderr, returncode)
    assert (raised.value.code, raised.value.message) == (code, message)


def test_windows_status_that_is_not_the_expected_object_is_a_parse_error() -> None:
    for stdout in ("", "not json", ps_json(Name="jdoe", Enabled="True", LockedOut=False)):
        with pytest.raises(AccountError) as raised:
            parse_windows_status("jdoe", stdout, "", 0)
        assert raised.value.code == "parse_error"


# --- Windows: the actions ------------------------------------------------------------------


def windows_machine(
    states: list[str], fail: dict[str, Reply] | None = None
) -> Callable[[list[str]], Reply]:
    """Status calls read the next recording; a change script answers from ``fail`` by the
    cmdlet it runs, or succeeds silently."""
    queue = list(states)

    def answer(argv: list[str]) -> Reply:
        if "ConvertTo-Json" in argv[4]:
            return 0, queue.pop(0), ""
        for marker, reply in (fail or {}).items():
            if marker in argv[4]:
                return reply
        return 0, "", ""

    return answer


def test_windows_unlock_clears_a_lockout(on_windows: None) -> None:
    ctx = Recorded(windows_machine([win_user(locked=True), win_user()]))
    result = act("user.unlock", ctx, username="jdoe")
    assert result.ok and result.changed
    assert result.output == "jdoe: cleared locked out by bad passwords"
    assert ctx.calls == [
        windows_status_argv("jdoe"),
        windows_clear_argv("locked_out", "jdoe"),
        windows_status_argv("jdoe"),
    ]
    assert result.evidence.before["locked_out"] and not result.evidence.after["locked_out"]


def test_windows_unlock_enables_then_clears_the_lockout(on_windows: None) -> None:
    ctx = Recorded(windows_machine([win_user(enabled=False, locked=True), win_user()]))
    result = act("user.unlock", ctx, username="jdoe")
    assert result.ok and result.changed
    assert ctx.calls[1:3] == [
        windows_clear_argv("disabled", "jdoe"),
        windows_clear_argv("locked_out", "jdoe"),
    ]
    assert result.evidence.after == {**result.evidence.before, "enabled": True, "locked_out": False}


def test_windows_unlock_of_an_unlocked_account_changes_nothing(on_windows: None) -> None:
    ctx = Recorded(windows_machine([win_user()]))
    result = act("user.unlock", ctx, username="jdoe")
    assert result.ok and not result.changed and result.output == "jdoe is not locked"
    assert result.evidence.before == result.evidence.after
    assert len(ctx.calls) == 1


def test_windows_unlock_dry_run_only_reads(on_windows: None) -> None:
    ctx = Recorded(windows_machine([win_user(enabled=False)]), dry_run=True)
    result = act("user.unlock", ctx, username="jdoe")
    assert result.ok and not result.changed
    assert result.output == "would unlock jdoe: account disabled"
    assert ctx.calls == [windows_status_argv("jdoe")]


def test_windows_built_in_accounts_are_not_enabled(on_windows: None) -> None:
    ctx = Recorded(windows_machine([WIN_GUEST]))
    result = act("user.unlock", ctx, username="Guest")
    assert result.error is not None and result.error.code == "policy_denied"
    assert "built-in" in result.error.message
    assert ctx.calls == [windows_status_argv("Guest")]


def test_windows_lockout_that_stays_is_reported(on_windows: None) -> None:
    ctx = Recorded(windows_machine([win_user(locked=True), win_user(locked=True)]))
    result = act("user.unlock", ctx, username="jdoe")
    assert result.error is not None and result.error.code == "still_locked"
    assert result.changed and result.evidence.after["locked_out"]


def test_windows_failed_steps_say_so_and_whether_anything_changed(on_windows: None) -> None:
    denied = {"Enable-LocalUser": (5, "", "Access denied.\r\n")}
    ctx = Recorded(windows_machine([win_user(enabled=False, locked=True)] * 2, denied))
    result = act("user.unlock", ctx, username="jdoe")
    assert result.error is not None and result.error.code == "permission_denied"
    assert result.error.message == "clearing account disabled failed: Access denied."
    assert not result.changed and len(ctx.calls) == 3  # nothing after the failed step

    adsi = {"IsAccountLocked": (1, "", 'Exception calling "CommitChanges" ...\r\n')}
    states = [win_user(enabled=False, locked=True), win_user(locked=True)]
    ctx = Recorded(windows_machine(states, adsi))
    result = act("user.unlock", ctx, username="jdoe")
    assert result.error is not None and result.error.code == "command_failed"
    assert result.changed and result.evidence.after["enabled"]


def test_windows_unknown_account(on_windows: None) -> None:
    missing = Recorded(lambda argv: (3, "", ""))
    for action, params in (
        ("user.unlock", {}),
        ("user.reset_password", {"password": SECRET}),
    ):
        result = act(action, missing, username="ghost", **params)
        assert result.error is not None and result.error.code == "not_found"
    assert len(missing.calls) == 2  # one status read each, nothing else


def test_windows_reset_password_keeps_it_out_of_argv_and_result(on_windows: None) -> None:
    later = win_user(PasswordLastSet="2024-06-03T08:57:03Z")
    ctx = Recorded(windows_machine([win_user(), later]))
    result = act("user.reset_password", ctx, username="jdoe", password=SECRET)
    assert result.ok and result.changed and result.output == "new password set for jdoe"
    assert ctx.calls[1] == windows_password_argv("jdoe")
    encoded = base64.b64encode(SECRET.encode()).decode()
    assert ctx.stdins == [None, encoded + "\n", None]
    assert not any(SECRET in arg or encoded in arg for argv in ctx.calls for arg in argv)
    assert result.evidence.before["password_last_set"] == "2024-03-05T09:12:44Z"
    assert result.evidence.after["password_last_set"] == "2024-06-03T08:57:03Z"
    dumped = result.model_dump_json()
    assert SECRET not in dumped and encoded not in dumped


def test_windows_password_the_policy_refuses(on_windows: None) -> None:
    encoded = base64.b64encode(SECRET.encode()).decode()
    # Not what Set-LocalUser prints, but whatever a tool echoes must not reach the result.
    echoed = f"{WIN_POLICY_REFUSED.strip()} ({SECRET} / {encoded})\r\n"
    ctx = Recorded(windows_machine([win_user()], {"Set-LocalUser": (4, "", echoed)}))
    result = act("user.reset_password", ctx, username="jdoe", password=SECRET)
    assert result.error is not None and result.error.code == "password_rejected"
    assert result.error.message.startswith("Unable to update the password.")
    assert not result.changed
    dumped = result.model_dump_json()
    assert SECRET not in dumped and encoded not in dumped and "[password]" in dumped


def test_windows_reset_password_dry_run(on_windows: None) -> None:
    ctx = Recorded(windows_machine([win_user()]), dry_run=True)
    result = act("user.reset_password", ctx, username="jdoe", password=SECRET)
    assert result.ok and not result.changed
    assert result.output == "would set a new password for jdoe"
    assert ctx.stdins == [None]


# --- macOS: commands and parsers -----------------------------------------------------------


def test_macos_commands() -> None:
    assert macos_read_argv("jdoe") == [
        "dscl",
        ".",
        "-read",
        "/Users/jdoe",
        "RecordName",
        "UniqueID",
        "AuthenticationAuthority",
        "accountPolicyData",
    ]
    node = ["-n", "/Local/Default"]
    assert macos_policy_argv("jdoe") == ["pwpolicy", "-u", "jdoe", *node, "-authentication-allowed"]
    assert macos_enable_argv("jdoe") == ["pwpolicy", "-u", "jdoe", *node, "-enableuser"]


def test_macos_dscl_record() -> None:
    assert parse_dscl_user("jdoe", dscl_user(failed=6), "", 0) == {
        "username": "jdoe",
        "uid": 501,
        "disabled": False,
        "failed_logins": 6,
        "password_last_set": "2024-03-05T09:13:20Z",
    }
    assert parse_dscl_user("jdoe", dscl_user(disabled=True), "", 0)["disabled"]
    # The attribute named without its dsAttrTypeNative: prefix reads the same.
    plain = dscl_user(failed=2).replace("dsAttrTypeNative:", "")
    assert parse_dscl_user("jdoe", plain, "", 0)["failed_logins"] == 2


def test_macos_record_without_policy_data() -> None:
    text = "RecordName: svc\nUniqueID: 502\n"
    found = parse_dscl_user("svc", text, "No such key: accountPolicyData\n", 0)
    assert (found["uid"], found["failed_logins"], found["password_last_set"]) == (502, None, None)
    assert not found["disabled"]


def test_macos_missing_and_unreadable_records() -> None:
    with pytest.raises(AccountError) as raised:
        parse_dscl_user("ghost", "", DSCL_NOT_FOUND, 56)
    assert raised.value.code == "not_found"
    with pytest.raises(AccountError) as raised:
        parse_dscl_user("jdoe", "", "dscl: Operation not permitted\n", 1)
    assert (raised.value.code, raised.value.message) == (
        "command_failed",
        "dscl: Operation not permitted",
    )


def test_macos_authentication_allowed() -> None:
    assert parse_authentication_allowed(PW_ALLOWED, "") == (True, PW_ALLOWED.strip())
    assert parse_authentication_allowed(PW_DISABLED, "")[0] is False
    allowed, said = parse_authentication_allowed("", PW_LOCKED)
    assert not allowed and "minutesUntilFailedLoginReset" in said
    with pytest.raises(AccountError) as raised:
        parse_authentication_allowed("", "")
    assert raised.value.code == "parse_error"


# --- macOS: the actions --------------------------------------------------------------------


def mac(states: list[tuple[str, str]], enable: Reply = (0, "", "")) -> Callable[[list[str]], Reply]:
    """Each status reads the next (dscl record, pwpolicy answer), the last one again and
    again; -enableuser gives ``enable``."""
    queue = list(states)

    def answer(argv: list[str]) -> Reply:
        record, said = queue[0]
        if argv[0] == "dscl":
            return 0, record, ""
        if argv[-1] == "-authentication-allowed":
            if len(queue) > 1:
                queue.pop(0)
            return 0, said, ""
        return enable

    return answer


def test_macos_unlock_enables_a_disabled_account(on_macos: None) -> None:
    ctx = Recorded(mac([(dscl_user(disabled=True), PW_DISABLED), (dscl_user(), PW_ALLOWED)]))
    result = act("user.unlock", ctx, username="jdoe")
    assert result.ok and result.changed
    assert result.output == "jdoe: cleared not allowed to authenticate"
    assert ctx.calls == [
        macos_read_argv("jdoe"),
        macos_policy_argv("jdoe"),
        macos_enable_argv("jdoe"),
        macos_read_argv("jdoe"),
        macos_policy_argv("jdoe"),
    ]
    assert result.evidence.before["authentication_allowed"] is False
    assert result.evidence.after["authentication_allowed"] is True


def test_macos_lockout_enableuser_does_not_lift_is_reported(on_macos: None) -> None:
    locked = (dscl_user(failed=10), PW_LOCKED)
    ctx = Recorded(mac([locked, locked]))
    result = act("user.unlock", ctx, username="jdoe")
    assert result.error is not None and result.error.code == "still_locked"
    assert "minutesUntilFailedLoginReset" in result.error.message
    assert result.evidence.after["failed_logins"] == 10


def test_macos_unlock_of_an_allowed_account_changes_nothing(on_macos: None) -> None:
    # A failed-login count below the policy's limit does not keep anyone out.
    ctx = Recorded(mac([(dscl_user(failed=2), PW_ALLOWED)]))
    result = act("user.unlock", ctx, username="jdoe")
    assert result.ok and not result.changed and result.output == "jdoe is not locked"
    assert len(ctx.calls) == 2


def test_macos_refusals(on_macos: None) -> None:
    ctx = Recorded(mac([(dscl_user(name="_www", uid=70, disabled=True), PW_DISABLED)]))
    result = act("user.unlock", ctx, username="_www")
    assert result.error is not None and result.error.code == "policy_denied"
    assert "-enableuser" not in [arg for argv in ctx.calls for arg in argv]

    failing = Recorded(mac([(dscl_user(disabled=True), PW_DISABLED)], enable=(1, "", "boom\n")))
    result = act("user.unlock", failing, username="jdoe")
    assert result.error is not None and result.error.code == "command_failed"

    missing = Recorded(lambda argv: (56, "", DSCL_NOT_FOUND))
    result = act("user.unlock", missing, username="ghost")
    assert result.error is not None and result.error.code == "not_found"


def test_macos_reset_password_is_not_supported_and_runs_nothing(on_macos: None) -> None:
    ctx = Recorded(lambda argv: pytest.fail(f"ran {argv}"))
    result = act("user.reset_password", ctx, username="jdoe", password=SECRET)
    assert result.error is not None and result.error.code == "not_supported"
    assert result.error.message == MACOS_NO_RESET and not ctx.calls


# --- the shared flow on Linux, and systems without one -------------------------------------


def test_linux_partial_unlock_reports_the_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(accounts.shutil, "which", lambda name: "/usr/sbin/" + name)
    tally = (
        "jdoe:\nWhen                Type  Source                                           Valid\n"
    )
    tally += "2024-06-03 08:57:03 RHOST 192.0.2.7                                            V\n"
    state = {"password": "L"}

    def answer(argv: list[str]) -> Reply:
        if argv[0] == "passwd":
            return 0, f"jdoe {state['password']} 2024-03-05 0 99999 7 -1\n", ""
        if argv[0] == "usermod":
            state["password"] = "P"
            return 0, "", ""
        if argv[-1] == "--reset":
            return 1, "", "faillock: Error resetting records\n"
        return 0, tally, ""

    result = act("user.unlock", Recorded(answer), username="jdoe")
    assert result.error is not None and result.error.code == "command_failed"
    assert "faillock: Error resetting records" in result.error.message
    assert result.changed  # the password was unlocked before the tally reset failed
    assert result.evidence.before == {
        "username": "jdoe",
        "password_status": "locked",
        "last_change": "2024-03-05",
        "failed_logins": 1,
    }
    assert result.evidence.after["password_status"] == "usable"


def test_other_systems_are_not_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "freebsd14")
    ctx = Recorded(lambda argv: pytest.fail(f"ran {argv}"))
    for action, params in (("user.unlock", {}), ("user.reset_password", {"password": SECRET})):
        result = act(action, ctx, username="jdoe", **params)
        assert result.error is not None and result.error.code == "not_supported"
