"""The transport seam: what an agentless transport offers, and what its actions get.

A remote action is a plain function `(params, ctx) -> ActionResult`, run in a worker thread
(paramiko and pywinrm block), like the agent's actions: `ctx.run(argv)` runs a command on
the endpoint from an argument list (quoted with shlex.join for ssh, never a string built
from input), and the action parses the answer with the parsers in catalogue/probes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from catalogue import ActionResult


class Completed(NamedTuple):
    """A finished remote command."""

    returncode: int
    stdout: str
    stderr: str


class RemoteShell(Protocol):
    """Commands on one endpoint. Raises controller.transports.errors.TransportError."""

    def run(self, argv: list[str], timeout: float = 60.0, stdin: str | None = None) -> Completed:
        """Run argv (an argument list) with a C locale; stdin carries secrets, never argv."""
        ...


def _discard(text: str) -> None:
    """Where live output goes when nobody follows the run."""


@dataclass
class RemoteContext:
    """What a remote action gets besides its params: the shell, dry-run, live output."""

    shell: RemoteShell
    dry_run: bool = False
    emit: Callable[[str], None] = _discard
    # Facts learnt about the endpoint (os family, service manager), reused by later actions.
    facts: dict[str, Any] = field(default_factory=dict)

    def run(self, argv: list[str], timeout: float = 60.0, stdin: str | None = None) -> Completed:
        return self.shell.run(argv, timeout=timeout, stdin=stdin)


RemoteAction = Callable[[Any, RemoteContext], ActionResult]


@dataclass(frozen=True)
class Target:
    """Where and how to reach one agentless endpoint (secrets already decrypted)."""

    endpoint_id: str
    transport: str  # ssh | winrm
    address: str
    port: int
    username: str
    password: str | None = None
    private_key: str | None = None  # PEM (ssh)
    host_key: str | None = None  # pinned "ssh-ed25519 AAAA..." (ssh)
    jump: Target | None = None  # ssh: reach the endpoint through this host
    sudo: bool = False  # ssh: run actions that change the machine through sudo -n
    connect_timeout_s: float = 10.0
    options: dict[str, Any] = field(default_factory=dict)  # winrm: auth, cert validation


class RemoteTransport(Protocol):
    """One per kind (ssh, winrm), shared by every endpoint of that kind."""

    kind: str

    async def run_action(
        self, target: Target, action: str, params: Any, *, dry_run: bool, timeout_s: float
    ) -> ActionResult:
        """Run a validated catalogue action. Transport failures come back as an
        ActionResult with the TransportError's code, never as an exception."""
        ...

    async def host_key(self, target: Target) -> str:
        """The key the host shows now (ssh: "type base64"); winrm answers "" ."""
        ...

    async def inventory(self, target: Target) -> dict[str, Any]:
        """The endpoint's inventory, in the agent's section shapes (agent/inventory)."""
        ...

    async def aclose(self) -> None: ...
