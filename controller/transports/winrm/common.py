"""What every WinRM action shares: running a script with its params, reading its answer.

Scripts print one ConvertTo-Json document on stdout. Expected failures end the script
with one line on stderr and an exit status from EXIT_CODES; anything unexpected is a
terminating error (the prologue sets $ErrorActionPreference = 'Stop'), exit 1.
"""

from __future__ import annotations

import json
from typing import Any

from catalogue import ActionResult
from catalogue.probes.windows_scm import WIN_NOT_FOUND_EXIT
from controller.transports.base import Completed, RemoteContext
from controller.transports.winrm.client import powershell_argv

NOT_FOUND, INVALID, DENIED = WIN_NOT_FOUND_EXIT, 4, 5
EXIT_CODES = {NOT_FOUND: "not_found", INVALID: "invalid_params", DENIED: "permission_denied"}
# Turns a .NET DateTime (local or UTC) into UNIX seconds, the inventory's convention.
EPOCH_FN = (
    "function Epoch($t) { if ($null -eq $t) { return $null }; "
    "return [DateTimeOffset]::new($t.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000 }\n"
)


def run_script(
    ctx: RemoteContext, body: str, params: dict[str, Any] | None = None, timeout: float = 60.0
) -> Completed:
    return ctx.run(powershell_argv(body, params), timeout=timeout)


def script_failure(done: Completed, what: str) -> ActionResult:
    """The failure for a script that exited non-zero."""
    code = EXIT_CODES.get(done.returncode, "command_failed")
    said = done.stderr.strip() or f"powershell exited with {done.returncode}"
    return ActionResult.failure(code, f"{what}: {said}"[:2000])


def json_answer(done: Completed) -> Any:
    """The script's JSON document; None when stdout is not JSON (a broken script)."""
    try:
        return json.loads(done.stdout.lstrip("\ufeff"))
    except ValueError:
        return None


def as_list(value: Any) -> list[Any]:
    """ConvertTo-Json writes a one-item array as the item, an empty one as null."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def unparsable(done: Completed, what: str) -> ActionResult:
    return ActionResult.failure(
        "protocol_error",
        f"{what}: the script's output is not the JSON expected",
        output=done.stdout[-2000:],
    )
