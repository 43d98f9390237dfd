"""The controller's agentless reach: the transports by kind, and the credentials vault."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controller.storage.models import Endpoint
from controller.transports.base import RemoteTransport, Target
from controller.transports.credentials import Vault
from controller.transports.errors import TransportError
from controller.transports.targets import target_for


@dataclass
class Remote:
    transports: Mapping[str, RemoteTransport]
    vault: Vault

    def transport(self, kind: str) -> RemoteTransport:
        transport = self.transports.get(kind)
        if transport is None:
            raise TransportError(f"no {kind} transport in this controller")
        return transport

    def target(self, endpoint: Endpoint) -> Target:
        return target_for(endpoint, self.vault)

    async def aclose(self) -> None:
        for transport in self.transports.values():
            await transport.aclose()
