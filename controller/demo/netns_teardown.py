"""Delete network namespaces for good: whatever runs in them first, then their names.

A namespace with a live member survives `ip netns del` (only its name goes), and with it its
interfaces: a veth's outside end stays in the root namespace. An agent's service inventory
can leave such a member behind: on a machine with RabbitMQ, its init script's status check
starts `epmd -daemon`, which lives on in the agent's namespace after the agent has stopped.
The demo and the test lab both tear down with this.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable

NETNS_DIR = "/run/netns"


def netns_pids(names: Iterable[str]) -> set[int]:
    """Pids of processes living in the named namespaces (`ip netns pids`, batched)."""
    wanted: set[tuple[int, int]] = set()
    for name in names:
        try:
            st = os.stat(os.path.join(NETNS_DIR, name))
        except OSError:
            continue
        wanted.add((st.st_dev, st.st_ino))
    pids: set[int] = set()
    if not wanted:
        return pids
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:  # exited meanwhile, or a zombie with no namespaces left
            continue
        if (st.st_dev, st.st_ino) in wanted:
            pids.add(int(entry))
    return pids


def _signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # exited meanwhile
            os.kill(pid, sig)


def destroy_namespaces(names: list[str], grace_s: float = 2.0) -> None:
    """SIGTERM what runs in the namespaces, SIGKILL what is left after grace_s, then delete
    them all in one `ip` process."""
    pids = netns_pids(names)
    if pids:
        _signal_all(pids, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while (pids := netns_pids(names)) and time.monotonic() < deadline:
            time.sleep(0.05)
        _signal_all(pids, signal.SIGKILL)
    if names:
        subprocess.run(
            ["ip", "-force", "-batch", "-"],
            input="".join(f"netns del {name}\n" for name in names),
            capture_output=True,
            text=True,
        )
