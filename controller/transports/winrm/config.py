"""config.set and config.rollback over WinRM, with the agent's results (agent/actions/config.py).

A script sends the file's bytes back as base64; the edit is planned here with
catalogue.config_edit, the agent's own editor; a second script gets the new bytes as base64
on stdin (never in the command line, which Windows caps at 32k characters), checks the
file still has the sha256 it was read with, and writes a temporary file beside it that gets
the original's access rules (its DACL, via Get-Acl/Set-Acl), then Move-Item -Force over it.
The owner becomes the WinRM account. Links and junctions are refused, not followed.

Backups go to %ProgramData%\\deskside\\config-backups\\<token>.bak and .json (hashes), a
directory made readable by SYSTEM and Administrators only: backups may hold secrets.
Tested only against the WS-Man emulator (tests/winrm_emulator.py), never on Windows.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from catalogue import ActionResult
from catalogue.config_edit import outcome
from catalogue.config_edit.outcome import MAX_SIZE, Refused
from controller.transports.base import Completed, RemoteContext
from controller.transports.winrm.client import powershell_argv
from controller.transports.winrm.common import DENIED, EXIT_CODES, NOT_FOUND, json_answer

CONFLICT = 9  # the write script's exit status when the file changed since it was read
_CODES = {**EXIT_CODES, CONFLICT: "conflict"}
_TIMEOUT_S = 120.0  # 10 MiB each way as base64
_TRAP = (
    "trap [UnauthorizedAccessException] {"
    f" [Console]::Error.WriteLine($_.Exception.Message); exit {DENIED} }}\n"
)
_DIR = "$dir = Join-Path $env:ProgramData 'deskside\\config-backups'\n"
# The file at $path with its bytes, or $null when there is no such file.
_CURRENT = (
    "function Current($path) {\n"
    "  $f = Get-Item -LiteralPath $path -Force -ErrorAction SilentlyContinue\n"
    "  if ($null -eq $f -or $f.PSIsContainer) { return $null }\n"
    "  $o = @{ path = $f.FullName; size = $f.Length; content = $null;"
    " link = [bool]($f.Attributes -band [IO.FileAttributes]::ReparsePoint) }\n"
    f"  if (-not $o.link -and $f.Length -le {MAX_SIZE}) {{"
    " $o.content = [Convert]::ToBase64String([IO.File]::ReadAllBytes($f.FullName)) }\n"
    "  return $o }\n"
)
_READ = (
    _TRAP + _CURRENT + "[pscustomobject]@{ file = (Current $P.path) } | ConvertTo-Json -Compress\n"
)
_LOAD = (
    _TRAP + _DIR + _CURRENT + "$j = Join-Path $dir ($P.token + '.json')\n"
    "$b = Join-Path $dir ($P.token + '.bak')\n"
    "if (-not ((Test-Path -LiteralPath $j) -and (Test-Path -LiteralPath $b))) {"
    f" [Console]::Error.WriteLine('no such backup'); exit {NOT_FOUND} }}\n"
    "$record = [IO.File]::ReadAllText($j)\n"
    "try { $r = $record | ConvertFrom-Json } catch { $r = $null }\n"
    "$file = $(if ($r -and $r.path -is [string]) { Current $r.path })\n"
    "[pscustomobject]@{ record = $record; file = $file;"
    " backup = [Convert]::ToBase64String([IO.File]::ReadAllBytes($b)) }"
    " | ConvertTo-Json -Compress\n"
)
# With $P.token, the bytes replaced are kept first (the sidecar last, as the agent does).
_WRITE = (
    _TRAP + _DIR + "function Hex($b) { -join ([Security.Cryptography.SHA256]::Create()"
    ".ComputeHash($b) | ForEach-Object { $_.ToString('x2') }) }\n"
    "$f = Get-Item -LiteralPath $P.path -Force\n"
    "$bytes = [Convert]::FromBase64String([Console]::In.ReadToEnd())\n"
    "$now = [IO.File]::ReadAllBytes($f.FullName)\n"
    "if ((Hex $now) -ne $P.expected) {"
    f" [Console]::Error.WriteLine('it changed while it was being edited'); exit {CONFLICT} }}\n"
    "$kept = @()\n"
    "if ($P.token) {\n"
    "  if (-not (Test-Path -LiteralPath $dir)) {\n"
    "    New-Item -ItemType Directory -Force -Path $dir | Out-Null\n"
    "    $a = Get-Acl -LiteralPath $dir\n"
    "    $a.SetSecurityDescriptorSddlForm('D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)')\n"
    "    Set-Acl -LiteralPath $dir -AclObject $a }\n"
    "  $kept = @((Join-Path $dir ($P.token + '.bak')), (Join-Path $dir ($P.token + '.json')))\n"
    "  [IO.File]::WriteAllBytes($kept[0], $now)\n"
    "  [IO.File]::WriteAllText($kept[1], $P.record) }\n"
    "$tmp = Join-Path $f.DirectoryName ('.' + $f.Name + '.' + [Guid]::NewGuid().ToString('N'))\n"
    "try {\n"
    "  [IO.File]::WriteAllBytes($tmp, $bytes)\n"
    "  $acl = Get-Acl -LiteralPath $tmp\n"
    "  $acl.SetSecurityDescriptorSddlForm("
    "(Get-Acl -LiteralPath $f.FullName).GetSecurityDescriptorSddlForm('Access'), 'Access')\n"
    "  Set-Acl -LiteralPath $tmp -AclObject $acl\n"
    "  Move-Item -LiteralPath $tmp -Destination $f.FullName -Force\n"
    "} catch {\n"
    "  foreach ($k in @($tmp) + $kept) { Remove-Item -LiteralPath $k -Force -ErrorAction Ignore }\n"
    "  throw }\n"
)


@dataclass(frozen=True)
class _File:
    path: str  # as Windows spells it in full
    size: int
    link: bool
    content: bytes | None  # None: a link, or over MAX_SIZE


def _run(
    ctx: RemoteContext, script: str, params: dict[str, Any], what: str, stdin: str | None = None
) -> Completed:
    """Run script; Refused with the code its exit status stands for when it fails."""
    done = ctx.run(powershell_argv(script, params), timeout=_TIMEOUT_S, stdin=stdin)
    if done.returncode != 0:
        said = done.stderr.strip() or f"powershell exited with {done.returncode}"
        raise Refused(_CODES.get(done.returncode, "command_failed"), f"{what}: {said}"[:2000])
    return done


def _answer(ctx: RemoteContext, script: str, params: dict[str, Any], what: str) -> Any:
    """Run script; its JSON document."""
    answer = json_answer(_run(ctx, script, params, what))
    if not isinstance(answer, dict):
        raise Refused("protocol_error", f"{what}: the script's output is not the JSON expected")
    return answer


def _file(answer: dict[str, Any]) -> _File | None:
    found = answer.get("file")
    if not isinstance(found, dict):
        return None
    content = found.get("content")
    raw = base64.b64decode(content) if isinstance(content, str) else None
    return _File(str(found.get("path")), int(found.get("size") or 0), bool(found.get("link")), raw)


def _content(found: _File) -> bytes:
    if found.content is None:
        raise Refused("too_large", f"{found.path} is {found.size} bytes; the limit is {MAX_SIZE}")
    return found.content


def _write(ctx: RemoteContext, path: str, content: bytes, expected: str, **backup: Any) -> None:
    params = {"path": path, "expected": expected, "token": None, "record": None, **backup}
    _run(ctx, _WRITE, params, path, stdin=base64.b64encode(content).decode("ascii"))


def config_set(params: Any, ctx: RemoteContext) -> ActionResult:
    data = outcome.described(params)
    try:
        found = _file(_answer(ctx, _READ, {"path": params.path}, params.path))
        if found is None:
            raise Refused("not_found", f"{params.path} does not exist or is not a file")
        if found.link:
            message = f"{params.path} is a link or junction; give the file it points to"
            raise Refused("invalid_params", message)
        original = _content(found)
        change = outcome.plan(params, found.path, original, data)
        if not change.needed or ctx.dry_run:
            return change.result()
        token = outcome.new_token()
        record = json.dumps(outcome.record(change, found.path), indent=2)
        expected = change.before["sha256"]
        _write(ctx, found.path, change.updated, expected, token=token, record=record)
    except Refused as exc:
        return ActionResult.failure(exc.code, str(exc), data=data)
    return change.result(token)


def config_rollback(params: Any, ctx: RemoteContext) -> ActionResult:
    token = params.rollback
    try:
        outcome.check_token(token)
        try:
            answer = _answer(ctx, _LOAD, {"token": token}, f"backup {token}")
        except Refused as exc:
            if exc.code == "not_found":
                raise Refused("not_found", f"no backup {token} on this endpoint") from None
            raise
        original = base64.b64decode(str(answer.get("backup")))
        saved = outcome.loaded(token, str(answer.get("record")).encode(), original, {})
        found = _file(answer)
        if found is not None and found.link:  # restoring would replace the link
            raise Refused("conflict", f"{saved['path']} is now a link; not restored")
        current = _content(found) if found is not None else None
        restore = outcome.plan_rollback(token, saved, original, current)
        if not restore.needed or ctx.dry_run:
            return restore.result(done=False)
        _write(ctx, saved["path"], original, restore.before["sha256"])
    except Refused as exc:
        return ActionResult.failure(exc.code, str(exc))
    return restore.result(done=True)


ACTIONS = {"config.set": config_set, "config.rollback": config_rollback}
