"""An agentless endpoint's row, as the Target its transport connects to."""

from __future__ import annotations

from typing import Any

from controller.storage.models import Endpoint
from controller.transports.base import Target
from controller.transports.credentials import Vault

DEFAULT_PORTS = {"ssh": 22, "winrm": 5986}
# The endpoints the controller reaches itself: every runner of theirs selects with this.
ENROLLED_AGENTLESS = (Endpoint.transport != "agent", Endpoint.revoked_at.is_(None))


def _jump(options: dict[str, Any], secrets: dict[str, Any]) -> Target | None:
    jump = options.get("jump")
    if not jump:
        return None
    address, port = str(jump["address"]), int(jump.get("port") or 22)
    return Target(
        # Keyed by the jump host, not the endpoint: endpoints behind one bastion share it.
        endpoint_id=f"jump:{address}:{port}",
        transport="ssh",
        address=address,
        port=port,
        username=str(jump["username"]),
        password=secrets.get("jump_password"),
        private_key=secrets.get("jump_private_key"),
        host_key=jump.get("host_key"),
    )


def target_for(endpoint: Endpoint, vault: Vault) -> Target:
    """Raises TransportError when the secrets cannot be decrypted."""
    options = dict(endpoint.remote_options or {})
    secrets = vault.unseal(endpoint.credentials)
    return Target(
        endpoint_id=endpoint.id,
        transport=endpoint.transport,
        address=endpoint.address or endpoint.hostname,
        port=endpoint.port or DEFAULT_PORTS.get(endpoint.transport, 22),
        username=endpoint.username or "",
        password=secrets.get("password"),
        private_key=secrets.get("private_key"),
        host_key=endpoint.host_key,
        jump=_jump(options, secrets),
        sudo=bool(options.get("sudo")),
        options=dict(options.get("winrm") or {}),
    )
