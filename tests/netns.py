"""Network-namespace lab for integration tests: simulated hosts on a private switch.

Each lab owns one "switch" namespace holding a bridge, plus one namespace per host joined
to that bridge by a veth pair whose host end is called ``eth0``.  Because the bridge and
every switch port live in the switch namespace, the root namespace gains no interfaces,
addresses or routes, and two labs using the same subnet cannot see each other.  Hosts get
no default route, so lab traffic can only go to loopback or to other lab hosts.

Namespace names are ``<prefix>-<pid>-<seq>-<host>``: the pid lets :func:`cleanup_stale`
tell a crashed run's leftovers from a lab that another live process is still using.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from controller.demo.netns_teardown import NETNS_DIR, destroy_namespaces

__all__ = ["Host", "NetnsError", "NetnsLab", "cleanup_stale", "netns_available"]

DEFAULT_PREFIX = "ds"
DEFAULT_SUBNET = "10.231.0.0/16"
_SWITCH = "switch"
_BRIDGE = "br0"
_PREFIX_RE = re.compile(r"[A-Za-z0-9]{1,8}")  # no "-": names must parse back to the pid
_HOST_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_lab_seq = itertools.count()


class NetnsError(RuntimeError):
    """An ``ip`` command failed while building or changing a lab."""


def _ip_batch(lines: Iterable[str], *, netns: str | None = None, force: bool = False) -> None:
    """Run many ``ip`` commands in one process; ``force`` keeps going past errors."""
    argv = ["ip", *(["-n", netns] if netns else []), *(["-force"] if force else []), "-batch", "-"]
    proc = subprocess.run(
        argv, input="".join(f"{line}\n" for line in lines), capture_output=True, text=True
    )
    if proc.returncode and not force:
        raise NetnsError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")


def _ip_batch_parallel(jobs: dict[str, list[str]]) -> None:
    """Run one ``ip -n NS -batch -`` per namespace, all at once (``-n`` is global, not per line)."""
    procs: list[tuple[str, subprocess.Popen[str]]] = []
    for netns, lines in jobs.items():
        proc = subprocess.Popen(
            ["ip", "-n", netns, "-batch", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append((netns, proc))
        # A few hundred bytes fit in the pipe buffer, so writing before reading can't block.
        assert proc.stdin is not None
        proc.stdin.write("".join(f"{line}\n" for line in lines))
        proc.stdin.close()
    errors = [f"{ns}: {p.communicate()[1].strip()}" for ns, p in procs if p.wait() != 0]
    if errors:
        raise NetnsError("configuring hosts failed: " + "; ".join(errors))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists but belongs to someone else
        return True
    return True


def cleanup_stale(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Delete namespaces named ``<prefix>-<pid>-...`` whose creating process is gone.

    Labs of processes still running (e.g. a colleague's pytest session) are left alone.
    Returns the names removed.
    """
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    pattern = re.compile(rf"{re.escape(prefix)}-(\d+)-.+")
    stale = sorted(
        name for name in names if (m := pattern.fullmatch(name)) and not _pid_alive(int(m.group(1)))
    )
    destroy_namespaces(stale)
    return stale


@functools.cache
def netns_available() -> str | None:
    """Return None if this process can build labs, else a reason suitable for a skip message."""
    if os.geteuid() != 0:
        return f"network namespaces need root (euid is {os.geteuid()})"
    if shutil.which("ip") is None:
        return "the `ip` binary (Debian package iproute2) is not installed"
    probe = f"{DEFAULT_PREFIX}-{os.getpid()}-probe"
    try:
        # Probe everything a lab needs, since containers often allow netns but lack
        # the bridge or veth drivers.  "name" is explicit because `ip` would read a bare
        # "b" as an abbreviation of "broadcast".
        _ip_batch([f"netns add {probe}"])
        _ip_batch(
            ["link add name b type bridge", "link add name v type veth peer name w"], netns=probe
        )
    except (NetnsError, OSError) as exc:
        return f"network namespaces not usable here: {exc}"
    finally:
        _ip_batch([f"netns del {probe}"], force=True)
    return None


@dataclass
class Host:
    """One simulated machine: a namespace with ``lo`` and ``eth0`` (``address``) up."""

    name: str  # the name given to add_hosts, e.g. "ctl"
    netns: str  # e.g. "ds-4242-0-ctl"
    address: str  # e.g. "10.231.0.1"
    lab: NetnsLab = field(repr=False)
    port: str = field(repr=False)  # its bridge port in the switch namespace, e.g. "h1"

    def _argv(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv]

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` inside this host; the lab kills it at teardown if still running."""
        proc: subprocess.Popen[Any] = subprocess.Popen(self._argv(argv), **kwargs)
        self.lab._procs.append(proc)
        return proc

    def run(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """Run ``argv`` inside this host to completion (``subprocess.run`` keyword arguments)."""
        return subprocess.run(self._argv(argv), **kwargs)

    def cut(self) -> None:
        """Pull the cable: take the switch port down.

        The host sees NO-CARRIER and its packets, like everyone else's packets to it, are
        dropped silently; no FIN or RST is sent, so open TCP connections just stall and
        resume after :meth:`restore` if neither side has given up by then.
        """
        _ip_batch([f"link set {self.port} down"], netns=self.lab.switch)

    def restore(self) -> None:
        """Plug the cable back in (STP is off, so the port forwards immediately)."""
        _ip_batch([f"link set {self.port} up"], netns=self.lab.switch)


class NetnsLab:
    """A set of hosts on one private bridge; use as a context manager so teardown runs."""

    def __init__(self, prefix: str = DEFAULT_PREFIX, *, subnet: str = DEFAULT_SUBNET) -> None:
        if not _PREFIX_RE.fullmatch(prefix):
            raise ValueError(f"prefix must be 1-8 letters or digits, got {prefix!r}")
        self.prefix = prefix
        self.network = ipaddress.IPv4Network(subnet)
        self.lab_id = f"{prefix}-{os.getpid()}-{next(_lab_seq)}"
        self.switch = f"{self.lab_id}-{_SWITCH}"
        self.hosts: dict[str, Host] = {}
        self._free: Iterator[ipaddress.IPv4Address] = self.network.hosts()
        self._namespaces: list[str] = []  # everything that may exist, for teardown
        self._procs: list[subprocess.Popen[Any]] = []

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def add_hosts(self, names: list[str]) -> list[Host]:
        """Create hosts ``names`` (in that order), each reachable from all others."""
        for name in names:
            if not _HOST_RE.fullmatch(name) or name == _SWITCH:
                raise ValueError(f"bad host name {name!r}")
        if len(set(names)) != len(names) or set(names) & self.hosts.keys():
            raise ValueError(f"duplicate host names in {names!r}")
        new: list[Host] = []
        for name in names:
            try:
                address = next(self._free)
            except StopIteration:
                raise NetnsError(f"subnet {self.network} is full") from None
            # Switch-side port names only need to be unique inside the switch namespace,
            # so "h<n>" stays far below the 15-character interface name limit.
            port = f"h{int(address) - int(self.network.network_address)}"
            new.append(Host(name, f"{self.lab_id}-{name}", str(address), self, port))

        first = not self._namespaces
        to_add = ([self.switch] if first else []) + [h.netns for h in new]
        self._namespaces += to_add  # before creating, so a half-built lab is torn down too
        _ip_batch(f"netns add {ns}" for ns in to_add)

        switch_cmds = (
            [f"link add name {_BRIDGE} type bridge", f"link set {_BRIDGE} up"] if first else []
        )
        for h in new:
            # Creating the peer directly inside the host namespace saves a move per host.
            switch_cmds += [
                f"link add name {h.port} type veth peer name eth0 netns {h.netns}",
                f"link set {h.port} master {_BRIDGE} up",
            ]
        _ip_batch(switch_cmds, netns=self.switch)
        _ip_batch_parallel(
            {
                h.netns: [
                    "link set lo up",
                    f"addr add {h.address}/{self.network.prefixlen} dev eth0",
                    "link set eth0 up",
                ]
                for h in new
            }
        )
        self.hosts.update((h.name, h) for h in new)
        return new

    def close(self) -> None:
        """Kill processes in the lab and delete its namespaces (with them, every interface)."""
        destroy_namespaces(self._namespaces)
        for proc in self._procs:  # reap, so Popen objects don't warn or leave zombies
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # a process that left the lab's namespaces
                proc.kill()
                proc.wait()
        self._procs.clear()
        self._namespaces.clear()
        self.hosts.clear()
        self._free = self.network.hosts()

    def __enter__(self) -> Self:
        cleanup_stale(self.prefix)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
