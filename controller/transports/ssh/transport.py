"""The ssh RemoteTransport: catalogue actions run over pooled paramiko connections.

Actions are plain blocking functions, so each runs in a worker thread with an SshShell on
the target's pooled connection. Privilege: when the target has sudo=True, an action whose
catalogue risk is above READ (one that changes the machine) gets a shell that prefixes
`sudo -n`; reads and inventory never use sudo. An action the catalogue does not know is
treated as changing the machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from catalogue import CATALOGUE, ActionResult, Risk
from controller.transports.base import RemoteAction, RemoteContext, Target
from controller.transports.errors import CommandTimedOut, TransportError
from controller.transports.ssh.pool import SshPool
from controller.transports.ssh.shell import OUTPUT_LIMIT, SshShell

T = TypeVar("T")
Inventory = Callable[[RemoteContext], dict[str, Any]]


def changes_machine(action: str) -> bool:
    spec = CATALOGUE.get(action)
    return spec is None or spec.risk is not Risk.READ


class SshTransport:
    kind = "ssh"

    def __init__(
        self,
        actions: Mapping[str, RemoteAction],
        inventory: Inventory,
        *,
        pool: SshPool | None = None,
        max_actions: int = 64,
        inventory_timeout_s: float = 120.0,
        output_limit: int = OUTPUT_LIMIT,
    ) -> None:
        self.actions = actions
        self.collect_inventory = inventory
        self.pool = pool or SshPool()
        self.inventory_timeout_s = inventory_timeout_s
        self.output_limit = output_limit
        # Separate from the connect threads: long commands must not delay handshakes.
        self._executor = ThreadPoolExecutor(max_actions, thread_name_prefix="ssh-action")
        # What actions learnt about each endpoint (os family, ...), for the next actions.
        self._facts: dict[str, dict[str, Any]] = {}

    async def run_action(
        self, target: Target, action: str, params: Any, *, dry_run: bool, timeout_s: float
    ) -> ActionResult:
        implementation = self.actions.get(action)
        if implementation is None:
            return ActionResult.failure("not_supported", f"{action} has no ssh implementation")
        sudo = target.sudo and changes_machine(action)
        try:
            return await self._run(
                target,
                lambda ctx: implementation(params, ctx),
                sudo=sudo,
                dry_run=dry_run,
                timeout_s=timeout_s,
            )
        except TransportError as exc:
            return ActionResult.failure(exc.code, str(exc))

    async def inventory(self, target: Target) -> dict[str, Any]:
        """Raises TransportError when the endpoint cannot be read."""
        return await self._run(
            target,
            self.collect_inventory,
            sudo=False,
            dry_run=False,
            timeout_s=self.inventory_timeout_s,
        )

    async def host_key(self, target: Target) -> str:
        return await self.pool.host_key(target)

    async def aclose(self) -> None:
        await self.pool.aclose()
        self._executor.shutdown(wait=False)

    async def _run(
        self,
        target: Target,
        fn: Callable[[RemoteContext], T],
        *,
        sudo: bool,
        dry_run: bool,
        timeout_s: float,
    ) -> T:
        where = f"{target.address}:{target.port}"
        shell: SshShell | None = None
        # The connect counts against the action's time, as the caller sees it.
        deadline = asyncio.timeout(timeout_s)
        try:
            async with deadline, self.pool.lease(target) as connection:
                shell = SshShell(connection, where, sudo=sudo, output_limit=self.output_limit)
                context = RemoteContext(
                    shell=shell,
                    dry_run=dry_run,
                    facts=self._facts.setdefault(target.endpoint_id, {}),
                )
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._executor, fn, context)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise CommandTimedOut(f"{where}: no answer within {timeout_s} s") from None
        finally:
            if shell is not None:
                # The thread cannot be stopped, but its commands can: close their channels.
                shell.cancel()
