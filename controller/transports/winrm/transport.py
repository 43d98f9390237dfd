"""WinrmTransport: catalogue actions and inventory on agentless Windows endpoints.

pywinrm blocks, so each call runs in a worker thread with its own WinRM shell, opened at
its first command and deleted at the end. TransportErrors become failed ActionResults
carrying the error's code (unreachable, authentication_failed, timeout, ...).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from catalogue import ActionResult
from controller.transports.base import RemoteContext, Target
from controller.transports.errors import TransportError
from controller.transports.winrm import config, inventory
from controller.transports.winrm.actions import ACTIONS
from controller.transports.winrm.client import WinrmSettings, WinrmShell

T = TypeVar("T")
# config.* live in their own module, added here so actions.py's table stays as it is.
_ACTIONS = {**ACTIONS, **config.ACTIONS}
INVENTORY_TIMEOUT_S = 600.0


def _inventory_action(params: Any, ctx: RemoteContext) -> ActionResult:
    sections = inventory.collect(ctx, params.sections)
    failed = sorted(name for name, section in sections.items() if "error" in section)
    note = f"; incomplete: {', '.join(failed)}" if failed else ""
    return ActionResult(output=f"collected {', '.join(sections)}{note}", data=sections)


class WinrmTransport:
    kind = "winrm"

    def _in_shell(
        self, target: Target, timeout_s: float, dry_run: bool, work: Callable[[RemoteContext], T]
    ) -> T:
        shell = WinrmShell(WinrmSettings.from_target(target), time.monotonic() + timeout_s)
        try:
            return work(RemoteContext(shell=shell, dry_run=dry_run))
        finally:
            shell.close()

    async def run_action(
        self, target: Target, action: str, params: Any, *, dry_run: bool, timeout_s: float
    ) -> ActionResult:
        run = _inventory_action if action == "inventory.collect" else _ACTIONS.get(action)
        if run is None:
            return ActionResult.failure("not_supported", f"{action} is not available over WinRM")
        try:
            return await asyncio.to_thread(
                self._in_shell, target, timeout_s, dry_run, lambda ctx: run(params, ctx)
            )
        except TransportError as exc:
            return ActionResult.failure(exc.code, str(exc))

    async def host_key(self, target: Target) -> str:
        return ""  # WinRM trusts TLS certificates (or Kerberos), not pinned host keys

    async def inventory(self, target: Target) -> dict[str, Any]:
        """Raises TransportError when the endpoint cannot be reached at all."""
        return await asyncio.to_thread(
            self._in_shell, target, INVENTORY_TIMEOUT_S, False, inventory.collect
        )

    async def aclose(self) -> None:
        """Nothing to close: every call opens and deletes its own shell."""
