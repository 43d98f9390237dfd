"""The WinRM transport's connection, authentication, TLS and error mapping, through the
WS-Man emulator (tests/winrm_emulator.py). Nothing here ran against a real Windows host."""

from __future__ import annotations

import base64
import dataclasses
import json
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from winrm_emulator import WinrmEmulator, canned, recorded

import catalogue
from controller.transports.base import Target
from controller.transports.winrm import WinrmTransport
from controller.transports.winrm.client import (
    SettingsRefused,
    WinrmSettings,
    WinrmShell,
    powershell_argv,
    readable_stderr,
)

RECORDED = Path(__file__).resolve().parents[1] / "recorded"
SERVICE = (RECORDED / "windows" / "actions" / "get-service-running.json").read_text()


def target(emu: WinrmEmulator, **options: Any) -> Target:
    base = {"auth": "basic", "ca_file": str(emu.cert_file)} if emu.tls else {"scheme": "http"}
    return Target(
        endpoint_id="desk-0042",
        transport="winrm",
        address="127.0.0.1",
        port=emu.port,
        username=emu.username,
        password=emu.password,
        options={**base, **options},
    )


async def status(t: Target, timeout_s: float = 30) -> catalogue.ActionResult:
    params = catalogue.validate("service.status", {"name": "spooler"})
    return await WinrmTransport().run_action(
        t, "service.status", params, dry_run=False, timeout_s=timeout_s
    )


@pytest.fixture
def emu() -> Iterator[WinrmEmulator]:
    with WinrmEmulator() as emulator:
        emulator.answer("Get-Service -Name $P.name", SERVICE)
        yield emulator


async def test_basic_over_https_with_the_endpoints_ca_works(emu: WinrmEmulator) -> None:
    result = await status(target(emu))
    assert result.ok, result.error
    assert result.data["state"] == "running"
    # One shell, one command, its output, the terminate signal, then the shell deleted.
    assert emu.actions == ["Create", "Command", "Receive", "Signal", "Delete"]


async def test_command_is_powershell_encoded_command_and_params_travel_only_in_the_blob(
    emu: WinrmEmulator,
) -> None:
    await status(target(emu))
    (command,) = emu.commands
    words = command.line.split()
    assert words[:4] == ["powershell.exe", "-NoProfile", "-NonInteractive", "-EncodedCommand"]
    assert len(words) == 5  # nothing else on the command line
    assert command.params == {"name": "spooler"}
    assert "spooler" not in command.script  # only inside the base64 JSON blob


def test_hostile_values_never_reach_the_script_text() -> None:
    hostile = "x'; Remove-Item C:\\ -Recurse; '\"$(calc)`"
    argv = powershell_argv("Write-Output $P.v\n", {"v": hostile})
    script = base64.b64decode(argv[-1]).decode("utf-16-le")
    assert hostile not in script and "calc" not in script
    blob = script.split("FromBase64String('")[1].split("'")[0]
    assert json.loads(base64.b64decode(blob)) == {"v": hostile}


async def test_certificate_validation_is_on_by_default(emu: WinrmEmulator) -> None:
    t = target(emu)
    t.options.pop("ca_file")
    result = await status(t)
    assert result.error is not None and result.error.code == "transport_error"
    assert "certificate validation failed" in result.error.message
    assert emu.commands == []


async def test_certificate_validation_off_only_when_asked(emu: WinrmEmulator) -> None:
    t = target(emu, server_cert_validation="ignore")
    t.options.pop("ca_file")
    assert (await status(t)).ok


async def test_wrong_password_is_authentication_failed(emu: WinrmEmulator) -> None:
    result = await status(dataclasses.replace(target(emu), password="something else"))
    assert result.error is not None and result.error.code == "authentication_failed"


async def test_ntlm_is_offered_and_a_refusal_is_authentication_failed() -> None:
    # NTLM is emulated only up to the server's 401: the client's NTLM negotiate message.
    with WinrmEmulator(tls=False, auth="ntlm") as emu:
        result = await status(target(emu, auth="ntlm"))
    assert result.error is not None and result.error.code == "authentication_failed"
    tokens = [h.split(" ", 1) for h in emu.authorizations if " " in h]
    assert any(base64.b64decode(token).startswith(b"NTLMSSP\0") for _, token in tokens)


async def test_unreachable_port_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        t = Target("e", "winrm", "127.0.0.1", port, "u", "p", options={"scheme": "http"})
        result = await status(t)
    assert result.error is not None and result.error.code == "unreachable"


async def test_silent_server_is_timeout(emu: WinrmEmulator) -> None:
    emu.mode = "hang"
    result = await status(target(emu, operation_timeout_s=1, read_timeout_s=2))
    assert result.error is not None and result.error.code == "timeout"


async def test_command_that_never_finishes_is_timeout_within_the_budget(
    emu: WinrmEmulator,
) -> None:
    emu.mode = "never_done"  # every Receive: the recorded OperationTimeout fault
    result = await status(target(emu), timeout_s=1.5)
    assert result.error is not None and result.error.code == "timeout"
    assert emu.actions.count("Receive") >= 2  # the fault means "no output yet": retried
    assert "Signal" in emu.actions and emu.actions[-1] == "Delete"


async def test_malformed_envelope_is_protocol_error(emu: WinrmEmulator) -> None:
    emu.mode = "malformed"
    result = await status(target(emu))
    assert result.error is not None and result.error.code == "protocol_error"


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"scheme": "http", "auth": "basic"}, "refused over http"),
        ({"auth": "credssp"}, "options.auth"),
        ({"server_cert_validation": "no"}, "server_cert_validation"),
        ({"scheme": "ftp"}, "options.scheme"),
    ],
)
async def test_unsafe_or_unknown_settings_are_refused_before_connecting(
    options: dict[str, Any], reason: str
) -> None:
    t = Target("e", "winrm", "127.0.0.1", 1, "u", "p", options=options)
    with pytest.raises(SettingsRefused, match=reason):
        WinrmSettings.from_target(t)
    result = await status(t)
    assert result.error is not None and result.error.code == "invalid_params"


def test_defaults_are_ntlm_over_https_on_5986_with_validation() -> None:
    settings = WinrmSettings.from_target(Target("e", "winrm", "desk-0042", 0, "u", "p"))
    assert settings.endpoint == "https://desk-0042:5986/wsman"
    assert (settings.auth, settings.server_cert_validation) == ("ntlm", "validate")


async def test_unknown_action_is_not_supported(emu: WinrmEmulator) -> None:
    params = catalogue.validate("dns.flush", {})
    result = await WinrmTransport().run_action(
        target(emu), "dns.flush", params, dry_run=False, timeout_s=5
    )
    assert result.error is not None and result.error.code == "not_supported"
    assert emu.actions == []


async def test_host_key_is_empty() -> None:
    assert await WinrmTransport().host_key(Target("e", "winrm", "h", 5986, "u")) == ""


def test_stdin_is_sent_with_the_command(emu: WinrmEmulator) -> None:
    emu.answer("Read-Host", "ok\r\n")
    shell = WinrmShell(WinrmSettings.from_target(target(emu)), deadline=1e12)
    try:
        done = shell.run(powershell_argv("Read-Host\n"), stdin="secret\r\n")
    finally:
        shell.close()
    assert done.stdout == "ok\r\n"
    assert emu.commands[0].stdin == [b"secret\r\n"]
    assert "secret" not in emu.commands[0].line


def test_powershell_clixml_errors_become_text() -> None:
    # stderr of `powershell -encodedcommand` running Write-Error, as pywinrm recorded it.
    envelope = ET.fromstring(recorded("receive-response-powershell-error.xml"))
    streams = [
        n for n in envelope.iter() if n.tag.endswith("}Stream") and n.get("Name") == "stderr"
    ]
    raw = b"".join(base64.b64decode(n.text) for n in streams if n.text)
    text = readable_stderr(raw)
    assert text.startswith('Write-Error "Error" : Error')
    assert "CLIXML" not in text and "_x000D_" not in text


def test_canned_outputs_are_readable() -> None:
    assert json.loads(canned("ping-ok.json"))["sent"] == 3
