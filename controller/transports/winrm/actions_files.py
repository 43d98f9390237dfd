"""disk.usage, disk.cleanup, log.tail and file.stat over WinRM, in the agent's shapes.

Like the agent, nothing here follows a link: reparse points (symbolic links, junctions,
mount points) are never entered, never deleted and never counted. Sizes are file lengths
(Windows reports no allocated size without a call per file).
"""

from __future__ import annotations

import ntpath
from typing import Any

from catalogue import ActionResult
from catalogue.outcomes.disk import MAX_ENTRIES, MAX_ERRORS, MAX_LISTED, cleanup, no_roots, usage
from catalogue.result import bounded
from controller.transports.base import RemoteAction, RemoteContext
from controller.transports.winrm.common import (
    DENIED,
    EPOCH_FN,
    INVALID,
    NOT_FOUND,
    as_list,
    json_answer,
    run_script,
    script_failure,
    unparsable,
)

_WALK_TIMEOUT_S = 600.0

# Sets $d to the directory $P.path, or exits with the agent's reasons for refusing it.
_DIRECTORY = (
    "$d = Get-Item -LiteralPath $P.path -Force -ErrorAction SilentlyContinue\n"
    f"if ($null -eq $d) {{ [Console]::Error.WriteLine('does not exist'); exit {NOT_FOUND} }}\n"
    "if ($d.Attributes -band [IO.FileAttributes]::ReparsePoint) {"
    f" [Console]::Error.WriteLine('is a link or junction'); exit {INVALID} }}\n"
    "if (-not $d.PSIsContainer) {"
    f" [Console]::Error.WriteLine('is not a directory'); exit {INVALID} }}\n"
)

# --- disk.usage -------------------------------------------------------------------------------

# Each file's length goes to its "owner": its own directory when that is at most $P.depth
# below the root, else its ancestor at that depth. Python then adds each owner's bytes to
# the owners above it, so the answer holds one row per reported directory, not per file.
_USAGE = (
    _DIRECTORY + "$sizes = @{}; $unreadable = @(); $n = 0; $cut = $false\n"
    "$stack = New-Object System.Collections.Stack\n"
    "$stack.Push(@($d.FullName, 0, $d.FullName))\n"
    "while ($stack.Count -gt 0 -and -not $cut) {\n"
    "  $dir, $level, $owner = $stack.Pop()\n"
    "  if (-not $sizes.ContainsKey($owner)) { $sizes[$owner] = [long]0 }\n"
    "  try { $items = ([IO.DirectoryInfo]::new($dir)).GetFileSystemInfos() }"
    " catch { $unreadable += $dir; continue }\n"
    "  foreach ($i in $items) {\n"
    f"    $n++; if ($n -gt {MAX_ENTRIES}) {{ $cut = $true; break }}\n"
    "    if ($i.Attributes -band [IO.FileAttributes]::ReparsePoint) { continue }\n"
    "    if ($i -is [IO.DirectoryInfo]) {\n"
    "      $o = $(if ($level -lt $P.depth) { $i.FullName } else { $owner })\n"
    "      $stack.Push(@($i.FullName, ($level + 1), $o)) }\n"
    "    else { $sizes[$owner] += $i.Length } } }\n"
    "$drive = [IO.DriveInfo]::new($d.FullName)\n"
    "[pscustomobject]@{ root = $d.FullName; entries = $n; truncated = $cut;"
    " unreadable = @($unreadable);"
    " filesystem = @{ total = $drive.TotalSize; free = $drive.AvailableFreeSpace };"
    " owners = @($sizes.GetEnumerator() | ForEach-Object { @{ path = $_.Key; bytes = $_.Value } })"
    " } | ConvertTo-Json -Depth 4 -Compress\n"
)


def subtree_totals(root: str, owners: list[dict[str, Any]]) -> dict[str, int]:
    """Each reported directory's bytes plus those of the reported directories below it."""
    direct = {str(o["path"]).lower(): (str(o["path"]), int(o["bytes"])) for o in owners}
    totals = {shown: 0 for shown, _ in direct.values()}
    stop = root.lower()
    for key, (shown, size) in direct.items():
        totals[shown] += size
        while key != stop and (parent := ntpath.dirname(key)) != key:
            key = parent
            if key in direct:
                totals[direct[key][0]] += size
    return totals


def disk_usage(params: Any, ctx: RemoteContext) -> ActionResult:
    done = run_script(ctx, _USAGE, {"path": params.path, "depth": params.depth}, _WALK_TIMEOUT_S)
    if done.returncode != 0:
        return script_failure(done, params.path)
    answer = json_answer(done)
    if not isinstance(answer, dict) or not isinstance(answer.get("root"), str):
        return unparsable(done, "disk.usage")
    root = answer["root"]
    totals = subtree_totals(root, [o for o in as_list(answer.get("owners")) if isinstance(o, dict)])
    fs = answer.get("filesystem") or {}
    fs_total, fs_free = int(fs.get("total") or 0), int(fs.get("free") or 0)
    filesystem = {"total": fs_total, "used": fs_total - fs_free, "free": fs_free}
    return usage(
        params,
        root,
        totals,
        filesystem,
        entries=answer.get("entries"),
        truncated=bool(answer.get("truncated")),
        unreadable=[str(u) for u in as_list(answer.get("unreadable"))],
        other_fs=[],  # mount points are reparse points: never entered
    )


# --- disk.cleanup -----------------------------------------------------------------------------

# Deepest first; a directory goes when the walk left it empty and it is itself old. Its
# LastWriteTimeUtc was read by the enumeration, before the walk deleted anything in it.
_MAX_DEPTH = 64
_CLEANUP = (
    "$cutoff = [DateTime]::UtcNow.AddSeconds(-[double]$P.older_than_s)\n"
    "$S = @{ files = 0; bytes = [long]0; dirs = 0; links = 0; n = 0; errors = 0; cut = $false }\n"
    "$listed = New-Object System.Collections.Generic.List[string]\n"
    "$errs = New-Object System.Collections.Generic.List[object]\n"
    "function Fail($path, $why) { $S.errors++\n"
    f"  if ($errs.Count -lt {MAX_ERRORS}) {{"
    ' $errs.Add(@{ path = $path; error = "$why" }) } }\n'
    f"function Took($path) {{ if ($listed.Count -lt {MAX_LISTED}) {{ $listed.Add($path) }} }}\n"
    "function Clean($dir, $depth) { $empty = $true\n"
    "  try { $items = $dir.GetFileSystemInfos() } catch { Fail $dir.FullName $_; return $false }\n"
    "  foreach ($i in $items) {\n"
    f"    $S.n++; if ($S.n -gt {MAX_ENTRIES}) {{ $S.cut = $true; return $false }}\n"
    "    if ($i.Attributes -band [IO.FileAttributes]::ReparsePoint) {"
    " $S.links++; $empty = $false; continue }\n"
    "    if ($i -is [IO.DirectoryInfo]) {\n"
    f"      if ($depth -ge {_MAX_DEPTH}) {{ Fail $i.FullName 'nested too deep; not entered';"
    " $empty = $false; continue }\n"
    "      $inner = Clean $i ($depth + 1)\n"
    "      if (-not $inner -or $S.cut -or $i.LastWriteTimeUtc -ge $cutoff) {"
    " $empty = $false; continue }\n"
    "      if (-not $P.dry_run) { try { $i.Delete() } catch { $empty = $false; continue } }\n"
    "      $S.dirs++; Took ($i.FullName + '\\'); continue }\n"
    "    if ($i.LastWriteTimeUtc -ge $cutoff) { $empty = $false; continue }\n"
    "    if (-not $P.dry_run) { try { $i.Delete() }"
    " catch { Fail $i.FullName $_; $empty = $false; continue } }\n"
    "    $S.files++; $S.bytes += $i.Length; Took $i.FullName }\n"
    "  return $empty }\n"
    "$roots = foreach ($path in $P.paths) {\n"
    "  $d = Get-Item -LiteralPath $path -Force -ErrorAction SilentlyContinue\n"
    "  if ($null -eq $d -or -not $d.PSIsContainer -or"
    " ($d.Attributes -band [IO.FileAttributes]::ReparsePoint)) {"
    " Fail $path 'not an existing directory (links are refused)'; continue }\n"
    "  $free = [IO.DriveInfo]::new($d.FullName).AvailableFreeSpace; $was = $S.files\n"
    "  $null = Clean $d 0\n"
    "  @{ path = $path; free_before = $free; removed = $S.files - $was;"
    " free_after = [IO.DriveInfo]::new($d.FullName).AvailableFreeSpace }\n"
    "  if ($S.cut) { break } }\n"
    "[pscustomobject]@{ roots = @($roots); files = $S.files; bytes = $S.bytes; dirs = $S.dirs;"
    " links = $S.links; listed = @($listed); errors = @($errs); error_count = $S.errors;"
    " truncated = $S.cut } | ConvertTo-Json -Depth 4 -Compress\n"
)


def disk_cleanup(params: Any, ctx: RemoteContext) -> ActionResult:
    sent = {"paths": params.paths, "older_than_s": params.older_than_s, "dry_run": ctx.dry_run}
    done = run_script(ctx, _CLEANUP, sent, _WALK_TIMEOUT_S)
    if done.returncode != 0:
        return script_failure(done, "disk.cleanup")
    answer = json_answer(done)
    if not isinstance(answer, dict) or not isinstance(answer.get("files"), int):
        return unparsable(done, "disk.cleanup")
    errors = [e for e in as_list(answer.get("errors")) if isinstance(e, dict)]
    roots = [r for r in as_list(answer.get("roots")) if isinstance(r, dict)]
    if not roots:
        return no_roots(errors)
    # Windows counts no files while walking for free: before/after report free space.
    before = {r["path"]: {"free_bytes": r.get("free_before")} for r in roots}
    after = {r["path"]: {"free_bytes": r.get("free_after")} for r in roots}
    return cleanup(
        params,
        ctx.dry_run,
        listed=[str(p) for p in as_list(answer.get("listed"))],
        files=answer["files"],
        size=int(answer.get("bytes") or 0),
        dirs=int(answer.get("dirs") or 0),
        errors=errors,
        error_count=answer.get("error_count", 0),
        special=answer.get("links", 0),
        special_kind="links and junctions",
        other_fs=[],
        truncated=bool(answer.get("truncated")),
        before=before,
        after={} if ctx.dry_run else after,
        freed=None,
    )


# --- log.tail and file.stat -------------------------------------------------------------------

# Select-String is case-insensitive and a regex unless told otherwise; the agent's filter
# is a plain, case-sensitive substring.
_TAIL = (
    "$f = Get-Item -LiteralPath $P.path -Force -ErrorAction SilentlyContinue\n"
    f"if ($null -eq $f) {{ [Console]::Error.WriteLine('does not exist'); exit {NOT_FOUND} }}\n"
    f"if ($f.PSIsContainer) {{ [Console]::Error.WriteLine('is a directory'); exit {DENIED} }}\n"
    "$lines = if ($null -eq $P.grep) {"
    " Get-Content -LiteralPath $P.path -Tail $P.lines -Encoding UTF8 } else {"
    " Select-String -LiteralPath $P.path -Pattern $P.grep -SimpleMatch -CaseSensitive"
    " -Encoding UTF8 | Select-Object -Last $P.lines | ForEach-Object { $_.Line } }\n"
    "ConvertTo-Json -InputObject @($lines) -Compress\n"
)


def log_tail(params: Any, ctx: RemoteContext) -> ActionResult:
    done = run_script(ctx, _TAIL, {"path": params.path, "lines": params.lines, "grep": params.grep})
    if done.returncode != 0:
        return script_failure(done, params.path)
    found = [str(line) for line in as_list(json_answer(done))]
    return ActionResult(output=bounded("\n".join(found)), data={"lines": len(found)})


_STAT = (
    EPOCH_FN + "$f = Get-Item -LiteralPath $P.path -Force -ErrorAction SilentlyContinue\n"
    f"if ($null -eq $f) {{ [Console]::Error.WriteLine('does not exist'); exit {NOT_FOUND} }}\n"
    "$link = [bool]($f.Attributes -band [IO.FileAttributes]::ReparsePoint)\n"
    "$hash = if ($P.hash -eq 'sha256' -and -not $f.PSIsContainer -and -not $link) {"
    " (Get-FileHash -LiteralPath $P.path -Algorithm SHA256).Hash.ToLowerInvariant() }\n"
    "[pscustomobject]@{ type = $(if ($link) { 'symlink' } elseif ($f.PSIsContainer) { 'dir' }"
    " else { 'file' }); size = $(if ($f.PSIsContainer) { 0 } else { $f.Length });"
    " attributes = $f.Attributes.ToString(); owner = (Get-Acl -LiteralPath $P.path).Owner;"
    " modified = Epoch $f.LastWriteTime; created = Epoch $f.CreationTime;"
    " target = $(if ($link) { @($f.Target)[0] }); sha256 = $hash } | ConvertTo-Json -Compress\n"
)


def file_stat(params: Any, ctx: RemoteContext) -> ActionResult:
    done = run_script(ctx, _STAT, {"path": params.path, "hash": params.hash})
    if done.returncode != 0:
        return script_failure(done, params.path)
    found = json_answer(done)
    if not isinstance(found, dict) or found.get("type") not in ("file", "dir", "symlink"):
        return unparsable(done, "file.stat")
    # Windows has no mode bits, uid nor gid: those keys stay, as None; ACL owner and
    # attributes say what there is.
    data: dict[str, Any] = {
        "path": params.path,
        "type": found["type"],
        "size": found.get("size"),
        "mode": None,
        "uid": None,
        "gid": None,
        "owner": found.get("owner"),
        "group": None,
        "modified": found.get("modified"),
        "changed": None,
        "created": found.get("created"),
        "attributes": found.get("attributes"),
    }
    if data["type"] == "symlink":
        data["target"] = found.get("target")
    if found.get("sha256"):
        data["sha256"] = found["sha256"]
    summary = (
        f"{params.path}: {data['type']}, {data['size']} bytes, {data['attributes']} {data['owner']}"
    )
    return ActionResult(output=summary, data=data)


def config_set(params: Any, ctx: RemoteContext) -> ActionResult:
    """Refused rather than half done: the agent's config.set keeps a rollback copy and edits
    each format with a layout-keeping writer; over WinRM neither exists yet."""
    return ActionResult.failure(
        "not_supported",
        "config.set is not implemented over WinRM (no rollback copy could be kept); "
        "use the agent on this machine",
    )


ACTIONS: dict[str, RemoteAction] = {
    "disk.usage": disk_usage,
    "disk.cleanup": disk_cleanup,
    "log.tail": log_tail,
    "file.stat": file_stat,
    "config.set": config_set,
}
