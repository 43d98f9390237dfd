"""A RemoteShell over pywinrm's WS-Man Protocol, and the settings it is built from.

Every pywinrm and requests exception is mapped to controller.transports.errors here, at
the one place the library is called, so nothing above this module sees either library.

Commands run with WINRS_SKIP_CMD_SHELL: the command line goes to CreateProcess, not to
cmd.exe, so no cmd metacharacter is ever interpreted. PowerShell is only ever started with
``-EncodedCommand`` (the script as base64 UTF-16LE), and a script's parameters travel
inside it as one base64 JSON blob that the script decodes: input is never quoted into
PowerShell or command-line text, so there is no quoting to get wrong.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import certifi
import requests.exceptions
import winrm.exceptions
from winrm.protocol import Protocol

from controller.transports.base import Completed, Target
from controller.transports.errors import (
    AuthenticationFailed,
    CommandTimedOut,
    ProtocolError,
    TransportError,
    Unreachable,
)

Auth = Literal["ntlm", "kerberos", "basic"]
_AUTHS: tuple[Auth, ...] = ("ntlm", "kerberos", "basic")
# CreateProcess takes at most 32767 characters; -EncodedCommand makes a script ~2.7 times
# longer, so scripts stay small and data goes back through stdout, never in the command.
MAX_COMMAND_LINE = 32000
# Each Receive blocks on the server at most this long (WS-Man OperationTimeout); the HTTP
# read timeout must exceed it, or every quiet wait would look like a dead server.
DEFAULT_OPERATION_TIMEOUT_S = 20
_READ_MARGIN_S = 10
# Progress records would come back as CLIXML on stderr; output must be UTF-8 JSON.
PROLOGUE = (
    "$ErrorActionPreference = 'Stop'\n"
    "$ProgressPreference = 'SilentlyContinue'\n"
    "[Console]::OutputEncoding = [System.Text.Encoding]::UTF8\n"
)
_CLIXML = "#< CLIXML"


class SettingsRefused(TransportError):
    """Target.options ask for something unsafe or unknown; nothing was sent."""

    code = "invalid_params"


@dataclass(frozen=True)
class WinrmSettings:
    endpoint: str
    auth: Auth
    username: str
    password: str
    server_cert_validation: Literal["validate", "ignore"]
    ca_file: str | None
    operation_timeout_s: int
    read_timeout_s: int

    @classmethod
    def from_target(cls, target: Target) -> WinrmSettings:
        """Read Target.options: scheme (https), auth (ntlm), server_cert_validation
        (validate), ca_file, operation_timeout_s, read_timeout_s."""
        options = target.options
        scheme = options.get("scheme", "https")
        if scheme not in ("https", "http"):
            raise SettingsRefused(f"options.scheme must be https or http, not {scheme!r}")
        auth = options.get("auth", "ntlm")
        if auth not in _AUTHS:
            raise SettingsRefused(f"options.auth must be one of {', '.join(_AUTHS)}")
        if auth == "basic" and scheme != "https":
            # Basic sends the password itself: only inside TLS.
            raise SettingsRefused("options.auth basic is refused over http; use https")
        validation = options.get("server_cert_validation", "validate")
        if validation not in ("validate", "ignore"):
            raise SettingsRefused("options.server_cert_validation must be validate or ignore")
        operation = int(options.get("operation_timeout_s", DEFAULT_OPERATION_TIMEOUT_S))
        read = int(options.get("read_timeout_s", operation + _READ_MARGIN_S))
        if not 1 <= operation < read:
            raise SettingsRefused("options: need 1 <= operation_timeout_s < read_timeout_s")
        port = target.port or (5986 if scheme == "https" else 5985)
        host = f"[{target.address}]" if ":" in target.address else target.address
        return cls(
            endpoint=f"{scheme}://{host}:{port}/wsman",
            auth=auth,
            username=target.username,
            password=target.password or "",
            server_cert_validation=validation,
            ca_file=options.get("ca_file"),
            operation_timeout_s=operation,
            read_timeout_s=read,
        )


T = TypeVar("T")


def _mapped(call: Callable[[], T]) -> T:
    """Call pywinrm, turning its and requests' exceptions into TransportErrors."""
    try:
        return call()
    except winrm.exceptions.AuthenticationError as exc:
        raise AuthenticationFailed(f"WinRM refused the credentials: {exc}") from exc
    except PermissionError as exc:  # requests_ntlm's "server did not send a challenge"
        raise AuthenticationFailed(f"WinRM refused NTLM authentication: {exc}") from exc
    except requests.exceptions.SSLError as exc:  # before ConnectionError, its base class
        raise TransportError(
            f"TLS certificate validation failed: {exc}. Trust the endpoint's CA with "
            "options.ca_file (or, knowingly, set server_cert_validation to ignore)"
        ) from exc
    except requests.exceptions.ConnectTimeout as exc:  # before Timeout and ConnectionError
        raise Unreachable(f"connecting timed out: {exc}") from exc
    except requests.exceptions.ConnectionError as exc:
        raise Unreachable(f"cannot connect: {exc}") from exc
    except (requests.exceptions.ReadTimeout, winrm.exceptions.WinRMOperationTimeoutError) as exc:
        raise CommandTimedOut(f"no answer in time: {exc or 'WS-Man operation timeout'}") from exc
    except winrm.exceptions.WSManFaultError as exc:
        raise ProtocolError(f"WS-Man fault: {exc.reason}") from exc
    except winrm.exceptions.WinRMTransportError as exc:
        raise ProtocolError(f"HTTP {exc.code} from the WinRM service") from exc
    except winrm.exceptions.WinRMError as exc:  # e.g. kerberos asked for but not installed
        raise TransportError(f"WinRM: {exc}") from exc
    # pywinrm reads replies with ElementTree and next(), and asserts RelatesTo: a malformed
    # envelope surfaces as one of these (a missing element or attribute, a bad base64 or
    # exit code, a reply to another request).
    except (ET.ParseError, StopIteration, KeyError, ValueError, AssertionError) as exc:
        raise ProtocolError(f"malformed WS-Man reply: {type(exc).__name__}: {exc}") from exc


def powershell_argv(body: str, params: dict[str, Any] | None = None) -> list[str]:
    """powershell.exe running PROLOGUE, then ``$P = <params>``, then body.

    params become JSON, then base64 (whose alphabet needs no quoting inside '...'),
    decoded by the script itself; body reads them as $P.name.
    """
    blob = base64.b64encode(json.dumps(params or {}).encode("utf-8")).decode("ascii")
    script = (
        PROLOGUE
        + f"$P = [System.Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{blob}'))"
        " | ConvertFrom-Json\n" + body
    )
    return encoded_argv(script)


def encoded_argv(script: str) -> list[str]:
    """powershell.exe running script, passed whole as -EncodedCommand."""
    return [
        "powershell.exe",
        "-NoProfile",
        "-NonInteractive",
        "-EncodedCommand",
        encode_powershell(script),
    ]


def readable_stderr(raw: bytes) -> str:
    """stderr as text. powershell.exe started with -EncodedCommand writes its errors as
    CLIXML (``#< CLIXML`` then <Objs>); the error lines are the <S S="Error"> elements."""
    text = raw.decode("utf-8", "replace")
    if not text.startswith(_CLIXML):
        return text
    try:
        # pywinrm parses every reply with the same parser; expat resolves no external
        # entities and (2.4.1+) refuses entity expansion bombs.
        root = ET.fromstring(text[len(_CLIXML) :].strip())  # noqa: S314
    except ET.ParseError:
        return text
    lines = [
        node.text or ""
        for node in root.iter()
        if node.tag.rpartition("}")[2] == "S" and node.get("S") == "Error"
    ]
    # CLIXML escapes control characters as _xHHHH_; CR LF ends each error line.
    return "".join(lines).replace("_x000D__x000A_", "\n").strip() or text


def encode_powershell(script: str) -> str:
    """What -EncodedCommand takes: the script as base64 of its UTF-16LE bytes."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


class WinrmShell:
    """One WinRM shell on one endpoint, opened at the first command, closed by close().

    deadline (time.monotonic()) bounds every command: an action's whole budget.
    """

    def __init__(self, settings: WinrmSettings, deadline: float) -> None:
        self.settings = settings
        self.deadline = deadline
        self._protocol: Protocol | None = None
        self._shell_id: str | None = None

    def _open(self) -> tuple[Protocol, str]:
        if self._protocol is None or self._shell_id is None:
            s = self.settings
            protocol = Protocol(
                endpoint=s.endpoint,
                transport=s.auth,
                username=s.username,
                password=s.password,
                server_cert_validation=s.server_cert_validation,
                # Never the REQUESTS_CA_BUNDLE of whoever started the controller.
                ca_trust_path=s.ca_file or certifi.where(),
                proxy=None,
                operation_timeout_sec=s.operation_timeout_s,
                read_timeout_sec=s.read_timeout_s,
            )
            self._shell_id = _mapped(protocol.open_shell)
            self._protocol = protocol
        return self._protocol, self._shell_id

    def run(self, argv: list[str], timeout: float = 60.0, stdin: str | None = None) -> Completed:
        """Run argv; the command line follows the MS C runtime's quoting rules."""
        line = subprocess.list2cmdline(argv)
        if len(line) > MAX_COMMAND_LINE:
            raise ProtocolError(f"command line of {len(line)} characters is too long for Windows")
        deadline = min(self.deadline, time.monotonic() + timeout)
        protocol, shell_id = self._open()
        command_id = _mapped(lambda: protocol.run_command(shell_id, line, skip_cmd_shell=True))
        try:
            if stdin is not None:
                _mapped(lambda: protocol.send_command_input(shell_id, command_id, stdin, True))
            out, err, code = self._receive(protocol, shell_id, command_id, deadline)
        finally:
            self._cleanup(protocol, shell_id, command_id)
        return Completed(code, out.decode("utf-8", "replace"), readable_stderr(err))

    def _receive(
        self, protocol: Protocol, shell_id: str, command_id: str, deadline: float
    ) -> tuple[bytes, bytes, int]:
        """Receive until Done. pywinrm's own get_command_output retries a WS-Man operation
        timeout forever; this loop gives up at the deadline."""
        out, err = bytearray(), bytearray()
        while True:
            if time.monotonic() >= deadline:
                raise CommandTimedOut("the command did not finish in time")
            try:
                chunk_out, chunk_err, code, done = _mapped(
                    lambda: protocol.get_command_output_raw(shell_id, command_id)
                )
            except CommandTimedOut as exc:
                # The server's OperationTimeout fault only means "no output yet".
                if isinstance(exc.__cause__, winrm.exceptions.WinRMOperationTimeoutError):
                    continue
                raise
            out += chunk_out
            err += chunk_err
            if done:
                return bytes(out), bytes(err), code

    @staticmethod
    def _cleanup(protocol: Protocol, shell_id: str, command_id: str) -> None:
        """Signal terminate: ends a command still running after a timeout; harmless after."""
        # Failing is harmless: deleting the shell next ends its commands anyway.
        with contextlib.suppress(TransportError):
            _mapped(lambda: protocol.cleanup_command(shell_id, command_id))

    def close(self) -> None:
        if self._protocol is None or self._shell_id is None:
            return
        protocol, shell_id = self._protocol, self._shell_id
        self._protocol = self._shell_id = None
        # Failing is harmless: the server drops idle shells itself (IdleTimeout).
        with contextlib.suppress(TransportError):
            _mapped(lambda: protocol.close_shell(shell_id))
