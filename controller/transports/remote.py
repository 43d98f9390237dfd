"""The controller's agentless reach: the transports by kind, and the credentials vault."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.storage.models import Endpoint
from controller.transports.base import RemoteTransport, Target
from controller.transports.credentials import Vault
from controller.transports.errors import TransportError
from controller.transports.targets import target_for

MAX_TARGETS = 100_000


@dataclass
class Remote:
    transports: Mapping[str, RemoteTransport]
    vault: Vault
    # Decrypting the secrets was a tenth of a warm fan-out's controller time: targets are
    # kept while the row they were made from is unchanged (its key says so).
    _targets: dict[tuple[object, ...], Target] = field(default_factory=dict)

    def transport(self, kind: str) -> RemoteTransport:
        transport = self.transports.get(kind)
        if transport is None:
            raise TransportError(f"no {kind} transport in this controller")
        return transport

    def target(self, endpoint: Endpoint) -> Target:
        key = (
            endpoint.id,
            endpoint.transport,
            endpoint.address,
            endpoint.port,
            endpoint.username,
            endpoint.host_key,
            endpoint.credentials,
            repr(endpoint.remote_options),
        )
        target = self._targets.get(key)
        if target is None:
            if len(self._targets) >= MAX_TARGETS:
                self._targets.clear()
            target = self._targets[key] = target_for(endpoint, self.vault)
        return target

    async def aclose(self) -> None:
        for transport in self.transports.values():
            await transport.aclose()
