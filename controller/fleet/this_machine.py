"""Which enrolled machine a request comes from: the one whose agent reports its address.

The rule, and why:
- The request's address must be one an agent reports on a network interface (the
  inventory's network.interfaces[].addresses). Loopback, link-local, unspecified and
  multicast addresses never count: every machine has 127.0.0.1 and fe80::/64, so they say
  nothing about which machine it is. A request over loopback comes from the controller's
  own host (or a proxy on it), not from a requester's desk.
- Exactly one endpoint (not revoked) may report it. Two or more (NAT, cloned images, a
  shared terminal server) means we cannot tell, so nothing is detected: a wrong guess here
  would let someone act on another person's machine.
Behind a reverse proxy the address is the proxy's unless uvicorn trusts it to forward the
client's (--forwarded-allow-ips); then the proxy's X-Forwarded-For decides.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.storage.models import Endpoint, Inventory

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def usable_address(text: str | None) -> Address | None:
    """The address as one machine's own, or None when it cannot name a single machine."""
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # fe80::1%eth0: zone dropped
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:192.0.2.7 from a dual-stack socket
    if (
        address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
    ):
        return None
    return address


def reported_addresses(inventory: dict[str, Any]) -> set[Address]:
    """The usable addresses of an inventory's network interfaces (agent/inventory)."""
    network = inventory.get("network")
    interfaces = network.get("interfaces") if isinstance(network, dict) else None
    found: set[Address] = set()
    for interface in interfaces if isinstance(interfaces, list) else []:
        addresses = interface.get("addresses") if isinstance(interface, dict) else None
        for entry in addresses if isinstance(addresses, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("address"), str):
                usable = usable_address(entry["address"])
                if usable is not None:
                    found.add(usable)
    return found


async def machine_at(session: AsyncSession, client_address: str | None) -> Endpoint | None:
    """The one endpoint reporting client_address, or None (none, several, or unusable)."""
    address = usable_address(client_address)
    if address is None:
        return None
    # The quoted address in the stored JSON narrows the rows to parse on both backends
    # (an address has no LIKE wildcards); parsing then confirms it is an interface's.
    query = (
        select(Inventory.endpoint_id, Inventory.data)
        .join(Endpoint, Endpoint.id == Inventory.endpoint_id)
        .where(Endpoint.revoked_at.is_(None))
        .where(cast(Inventory.data, Text).like(f'%"{address.compressed}"%'))
    )
    matches = [
        endpoint_id
        for endpoint_id, data in await session.execute(query)
        if address in reported_addresses(data)
    ]
    if len(matches) != 1:
        return None
    return await session.get(Endpoint, matches[0])
