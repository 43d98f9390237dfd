"""Demo agents in network namespaces, as machines on a little network of their own.

One bridge of the demo's (dsdemo<pid>, 10.232.X.1/24) in the root namespace, and per agent
a namespace (dsdemo-<pid>-<n>) joined to it by a veth pair whose inside end is eth0 at
10.232.X.<n+1>. The controller's gRPC listens on the bridge address only, so agents reach
it and nothing else on the machine does. Root only; where `ip netns` is refused, the demo
runs its agents as plain local processes instead. Names carry the demo's pid, so a demo
that was killed outright has its leftovers removed by the next one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from controller.demo.netns_teardown import destroy_namespaces

PREFIX = "dsdemo"
SUBNET = "10.232"
_LEFTOVER = re.compile(rf"^{PREFIX}-?(\d+)")


class NetworkError(RuntimeError):
    pass


def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers() -> None:
    """Namespaces and bridges of demos whose process is gone (killed without a clean-up)."""
    for line in _ip("netns", "list").splitlines():
        name = line.split()[0] if line.strip() else ""
        match = _LEFTOVER.match(name)
        if match and not _alive(int(match[1])):
            destroy_namespaces([name])
    for line in _ip("-o", "link", "show", "type", "bridge").splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        match = _LEFTOVER.match(name)
        if match and not _alive(int(match[1])):
            subprocess.run(["ip", "link", "del", name], capture_output=True)


def _free_subnet() -> str:
    """10.232.X with X unused by any address or route of this machine."""
    used = _ip("-4", "-o", "addr", "show") + _ip("-4", "route", "show", "table", "all")
    for third in range(256):
        prefix = f"{SUBNET}.{third}"
        if f"{prefix}." not in used:
            return prefix
    raise NetworkError(f"no free /24 in {SUBNET}.0.0/16")


@dataclass
class DemoNetwork:
    bridge: str
    prefix: str
    namespaces: list[str] = field(default_factory=list)

    @property
    def controller_ip(self) -> str:
        return f"{self.prefix}.1"

    @classmethod
    def create(cls) -> DemoNetwork | None:
        """The demo's bridge, or None when namespaces are not permitted here."""
        if os.geteuid() != 0 or shutil.which("ip") is None:
            return None
        try:
            remove_leftovers()
            network = cls(f"{PREFIX}{os.getpid()}", _free_subnet())
            _ip("link", "add", network.bridge, "type", "bridge")
        except NetworkError:
            return None
        try:
            _ip("addr", "add", f"{network.controller_ip}/24", "dev", network.bridge)
            _ip("link", "set", network.bridge, "up")
        except NetworkError:
            network.remove()
            return None
        return network

    def add_host(self, index: int) -> list[str]:
        """A namespace for agent `index` on the bridge; the prefix that runs a command in it."""
        namespace = f"{PREFIX}-{os.getpid()}-{index}"
        outside = f"dsd{os.getpid()}h{index}"
        _ip("netns", "add", namespace)
        self.namespaces.append(namespace)
        _ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("link", "set", outside, "master", self.bridge, "up")
        address = f"{self.prefix}.{index + 1}/24"
        _ip("-n", namespace, "addr", "add", address, "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        return ["ip", "netns", "exec", namespace]

    def remove(self) -> None:
        """Namespaces first, with whatever still runs in them (their veth pairs go with
        them), then the bridge."""
        destroy_namespaces(self.namespaces)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        self.namespaces.clear()
