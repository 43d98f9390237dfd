"""A WS-Man endpoint that speaks enough of the WinRM shell protocol for pywinrm.

Its replies are the envelopes pywinrm's own test suite recorded from Windows
(tests/recorded/winrm/wsman, see the README there), with only the ids and the streams
filled in. Each Command's -EncodedCommand is decoded; the script is answered from a table
of canned PowerShell outputs chosen by a marker the script contains, and kept (with the
params blob it carried) so tests can check what was sent.

Modes: "ok"; "unauthorized" (401 to everything); "hang" (answers nothing until stopped);
"malformed" (a broken envelope); "never_done" (every Receive ends in the WS-Man
OperationTimeout fault, as a command that never finishes does).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re
import ssl
import tempfile
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from certificates import self_signed, write_pem
from cryptography import x509
from cryptography.hazmat.primitives import serialization

RECORDED = Path(__file__).resolve().parent / "recorded" / "winrm"
WSMAN = RECORDED / "wsman"
_SHELL_ID = "11111111-1111-1111-1111-111111111113"  # the ids in the recorded envelopes
_COMMAND_ID = "11111111-1111-1111-1111-111111111114"
_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
_RELATES = re.compile(r"(<a:RelatesTo>)[^<]*(</a:RelatesTo>)")
_BLOB = re.compile(r"FromBase64String\('([A-Za-z0-9+/=]*)'\)")


def recorded(name: str) -> str:
    return (WSMAN / name).read_text()


def canned(name: str) -> str:
    """A recorded PowerShell output (tests/recorded/winrm/powershell)."""
    return (RECORDED / "powershell" / name).read_bytes().decode("utf-8")


@dataclass
class Reply:
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0


@dataclass
class Command:
    line: str
    script: str | None  # the decoded -EncodedCommand
    params: Any = None  # the decoded params blob, when the script carries one
    stdin: list[bytes] = field(default_factory=list)


def _decode(line: str) -> tuple[str | None, Any]:
    words = line.split()
    if "-EncodedCommand" not in words:
        return None, None
    script = base64.b64decode(words[words.index("-EncodedCommand") + 1]).decode("utf-16-le")
    blob = _BLOB.search(script)
    params = json.loads(base64.b64decode(blob.group(1))) if blob else None
    return script, params


def _self_signed(directory: Path) -> tuple[Path, Path]:
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert, key = self_signed(
        "localhost",
        not_before=datetime.timedelta(minutes=5),
        not_after=datetime.timedelta(days=1),
        extensions=[
            (x509.SubjectAlternativeName(san), False),
            (x509.BasicConstraints(ca=True, path_length=None), True),
        ],
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    write_pem(cert_file, cert)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class WinrmEmulator:
    def __init__(
        self,
        *,
        tls: bool = True,
        auth: str = "basic",
        username: str = "helpdesk",
        password: str = "s3cret-Pa55",
    ) -> None:
        self.tls, self.auth, self.username, self.password = tls, auth, username, password
        self.mode = "ok"
        self.routes: list[tuple[str, Reply]] = []
        self._used: set[int] = set()
        self.commands: list[Command] = []
        self.actions: list[str] = []  # the WS-Man action of every request, in order
        self.authorizations: list[str] = []  # the Authorization headers seen
        self._by_id: dict[str, tuple[Command, Reply]] = {}
        self._release = threading.Event()
        self._dir = tempfile.TemporaryDirectory()
        self.cert_file: Path | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        if tls:
            self.cert_file, key_file = _self_signed(Path(self._dir.name))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert_file, key_file)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def answer(self, marker: str, stdout: str = "", stderr: str = "", exit_code: int = 0) -> None:
        """Scripts containing marker get this reply."""
        self.routes.append((marker, Reply(stdout, stderr, exit_code)))

    def answer_inventory(self) -> None:
        """The inventory scripts, answered with the recordings the agent's Windows parsers
        are tested on (and the hand-written machine and process outputs)."""
        inventory = RECORDED.parent / "windows" / "inventory"
        for marker, recording in (
            ("Win32_OperatingSystem | Select-Object Caption", "win32-operatingsystem-win11.json"),
            ("Get-CimInstance Win32_Service |", "win32-service-win11.json"),
            ("Uninstall", "uninstall-keys-win11.json"),
            ("Win32_NetworkAdapterConfiguration", "win32-networkadapterconfiguration-laptop.json"),
        ):
            self.answer(marker, (inventory / recording).read_text(encoding="utf-8-sig"))
        self.answer("Win32_LogicalDisk", canned("machine-win11.json"))
        self.answer("Start-Sleep -Milliseconds", canned("process-list.json"))

    def __enter__(self) -> WinrmEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()

    # --- WS-Man ---------------------------------------------------------------------------

    def _reply_for(self, script: str | None) -> Reply:
        """Replies for one marker are used in the order given, the last one from then on."""
        matching = [i for i, (marker, _) in enumerate(self.routes) if marker in (script or "")]
        if not matching:
            return Reply(stderr="emulator: no canned answer for this script", exit_code=1)
        fresh = [i for i in matching if i not in self._used]
        chosen = fresh[0] if fresh else matching[-1]
        self._used.add(chosen)
        return self.routes[chosen][1]

    def _receive(self, command_id: str) -> str:
        _, reply = self._by_id[command_id]
        streams = []
        for name, text in (("stdout", reply.stdout), ("stderr", reply.stderr)):
            data = text.encode("utf-8")
            for start in range(0, len(data), 4096):  # several Stream elements, as Windows sends
                chunk = base64.b64encode(data[start : start + 4096]).decode("ascii")
                streams.append(
                    f'<rsp:Stream CommandId="{command_id}" Name="{name}">{chunk}</rsp:Stream>'
                )
            streams.append(f'<rsp:Stream CommandId="{command_id}" End="true" Name="{name}"/>')
        streams.append(
            f'<rsp:CommandState CommandId="{command_id}" State="{_DONE}">'
            f"<rsp:ExitCode>{reply.exit_code}</rsp:ExitCode></rsp:CommandState>"
        )
        template = recorded("receive-response.xml")
        head, _, rest = template.partition("<rsp:ReceiveResponse>")
        _, _, tail = rest.partition("</rsp:ReceiveResponse>")
        return f"{head}<rsp:ReceiveResponse>{''.join(streams)}</rsp:ReceiveResponse>{tail}"

    def _dispatch(self, body: bytes) -> tuple[int, str]:
        root = ET.fromstring(body)
        message_id = next(n.text or "" for n in root.iter() if n.tag.endswith("}MessageID"))
        status, text = self._answer(root)
        # pywinrm checks that a reply relates to its request (close_shell asserts it).
        return status, _RELATES.sub(rf"\g<1>{message_id}\g<2>", text)

    def _answer(self, root: ET.Element) -> tuple[int, str]:
        action = next(n.text or "" for n in root.iter() if n.tag.endswith("}Action"))
        verb = action.rsplit("/", 1)[-1]
        self.actions.append(verb)
        if verb == "Create":
            return 200, recorded("create-response.xml").replace(_SHELL_ID, str(uuid.uuid4()))
        if verb == "Command":
            line = next(n.text or "" for n in root.iter() if n.tag.endswith("}Command"))
            command = Command(line, *_decode(line))
            self.commands.append(command)
            command_id = str(uuid.uuid4()).upper()
            self._by_id[command_id] = (command, self._reply_for(command.script))
            template = recorded("command-response.xml")
            return 200, template.replace(_COMMAND_ID, command_id)
        if verb == "Receive":
            if self.mode == "never_done":
                return 500, recorded("fault-operation-timeout.xml")
            stream = next(n for n in root.iter() if n.tag.endswith("}DesiredStream"))
            return 200, self._receive(stream.get("CommandId", ""))
        if verb == "Send":
            stream = next(n for n in root.iter() if n.tag.endswith("}Stream"))
            command, _ = self._by_id[stream.get("CommandId", "")]
            command.stdin.append(base64.b64decode(stream.text or ""))
            return 200, recorded("send-response.xml")
        if verb == "Signal":
            return 200, recorded("signal-response.xml")
        if verb == "Delete":
            return 200, recorded("delete-response.xml")
        return 500, f"emulator: unknown action {action}"

    def _authorized(self, header: str) -> bool:
        if self.mode == "unauthorized" or self.auth != "basic":
            return False  # NTLM and Kerberos are only emulated up to their first 401
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return header == f"Basic {expected}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                header = self.headers.get("Authorization", "")
                emulator.authorizations.append(header)
                if not emulator._authorized(header):
                    challenge = 'Basic realm="WSMAN"' if emulator.auth == "basic" else "Negotiate"
                    self._send(401, "", {"WWW-Authenticate": challenge})
                    return
                if emulator.mode == "hang":
                    emulator._release.wait(30)
                    return
                if emulator.mode == "malformed":
                    self._send(
                        200, "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'>"
                    )
                    return
                self._send(*emulator._dispatch(body))

        return Handler
