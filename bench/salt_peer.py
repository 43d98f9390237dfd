"""Salt as the peer of deskside's benches: a salt-master and N salt-minions on loopback.

Salt lives in its own venv (bench/.salt-venv, made on demand) and is never imported here:
the benches drive it through that venv's executables and python, so the project's venv
stays free of it. Each minion gets its own id and config/pki/cache/sock dirs; all of them
share one master, which auto-accepts their keys.

    python bench/salt_peer.py [--minions 1] [--calls 100]

Run as a script (as `make bench` does with every bench/*.py) it brings up the peer, times
test.ping through LocalClient and stops it again: a quick check that Salt works here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psutil

ROOT = Path(__file__).resolve().parents[1]
SALT_VENV = ROOT / "bench" / ".salt-venv"
SALT_PYTHON = SALT_VENV / "bin" / "python"

# Waits until every expected minion answers test.ping. A new LocalClient on each try: one made
# before the master wrote its key never gets in. argv: master config, minion ids, deadline (s).
WAIT_SCRIPT = """
import json, sys, time
import salt.client, salt.exceptions
ids = json.loads(sys.argv[2])
deadline = time.monotonic() + float(sys.argv[3])
answered = {}
while time.monotonic() < deadline:
    try:
        client = salt.client.LocalClient(c_path=sys.argv[1])
        answered = client.cmd(ids, "test.ping", timeout=5, tgt_type="list") or {}
    except salt.exceptions.SaltException:  # the master is not listening yet
        answered = {}
    if set(answered) >= set(ids):
        print(json.dumps(answered))
        sys.exit(0)
    time.sleep(1)
print(f"{len(answered)} of {len(ids)} minions answered test.ping", file=sys.stderr)
sys.exit(1)
"""

# Times `calls` sequential LocalClient.cmd(target, "test.ping") on one client, made before the
# clock starts. Prints {"ms": [...], "answered": [...]}: per-call wall time and answer count.
# argv: master config, target, calls, call timeout (s).
TIME_SCRIPT = """
import json, sys, time
import salt.client
client = salt.client.LocalClient(c_path=sys.argv[1])
target, calls, timeout = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ms, answered = [], []
for _ in range(calls):
    started = time.perf_counter()
    answer = client.cmd(target, "test.ping", timeout=timeout)
    ms.append((time.perf_counter() - started) * 1000)
    answered.append(len(answer or {}))
print(json.dumps({"ms": ms, "answered": answered}))
"""


def ensure_salt() -> str | None:
    """Make bench/.salt-venv with salt in it; returns why not, or None when it is there."""
    if (SALT_VENV / "bin" / "salt-minion").exists():
        return None
    print(f"installing salt into {SALT_VENV} (once)...", flush=True)
    made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(SALT_VENV)], check=False)
    if made.returncode != 0:
        return "could not create bench/.salt-venv"
    pip = [str(SALT_PYTHON), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], capture_output=True, check=False)
    error = ""
    for spec in ("salt", "salt==3007.*"):  # the older line if the newest will not build
        done = subprocess.run([*pip, spec], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return None
        error = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
    return f"pip install salt failed: {error}"


def salt_version() -> str:
    code = "import salt.version; print(salt.version.__version__)"
    done = subprocess.run([str(SALT_PYTHON), "-c", code], capture_output=True, text=True)
    return done.stdout.strip() or "?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree(pid: int) -> list[int]:
    """pid and all its descendants: salt-minion forks a worker, and both are the minion."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
    return []


def kill_trees(processes: list[subprocess.Popen[bytes]], timeout: float = 5) -> None:
    """SIGTERM the processes, their descendants and their sessions, all at once so that
    50 minions take one timeout, not fifty; then SIGKILL whatever is left."""
    victims = []
    for process in processes:
        for pid in tree(process.pid):
            with contextlib.suppress(psutil.Error):
                victims.append(psutil.Process(pid))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for process in processes:
            if process.poll() is None:  # never signal a reaped pid's (maybe reused) group
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, sig)
        for victim in victims:
            with contextlib.suppress(psutil.Error):
                victim.send_signal(sig)
        victims = psutil.wait_procs(victims, timeout=timeout)[1]
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout if sig == signal.SIGKILL else 0.1)
        if not victims and all(p.poll() is not None for p in processes):
            return


def kill_tree(process: subprocess.Popen[bytes], timeout: float = 5) -> None:
    kill_trees([process], timeout)


class SaltPeer:
    """One salt-master and the minions added to it, under work/ (which the caller removes)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.publish, self.ret = free_port(), free_port()
        self.master: subprocess.Popen[bytes] | None = None
        self.minions: dict[str, subprocess.Popen[bytes]] = {}
        self.user = psutil.Process().username()

    @property
    def master_config(self) -> Path:
        return self.work / "master" / "conf" / "master"

    @property
    def ports(self) -> set[int]:
        """The master's ports: a minion's connections go to these."""
        return {self.publish, self.ret}

    def minion_pids(self) -> list[int]:
        return [p.pid for p in self.minions.values()]

    def _spawn(self, role: str, name: str, extra: str) -> subprocess.Popen[bytes]:
        root = self.work / name
        (root / "conf").mkdir(parents=True)
        # Own root/pki/cache/sock dirs and non-default ports: nothing shared with a system
        # salt or with the other minions, whose keys and caches would otherwise collide.
        (root / "conf" / role).write_text(
            f"root_dir: {root}\npki_dir: {root}/pki\ncachedir: {root}/cache\n"
            f"sock_dir: {root}/sock\nlog_file: {root}/{role}.log\npidfile: {root}/{role}.pid\n"
            f"publish_port: {self.publish}\nuser: {self.user}\nlog_level_logfile: warning\n"
            f"{extra}"
        )
        cmd = [str(SALT_VENV / "bin" / f"salt-{role}"), "-c", str(root / "conf")]
        with (root / "stderr.log").open("wb") as log:
            # A session of its own: cleanup signals the whole group, orphans included.
            return subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
            )

    def add_minions(self, count: int, deadline_s: float = 120) -> list[str]:
        """Start the master if needed and `count` more minions; return once every minion
        answers test.ping (key generation and acceptance included), or raise RuntimeError."""
        if self.master is None:
            extra = f"interface: 127.0.0.1\nauto_accept: True\nret_port: {self.ret}\n"
            self.master = self._spawn("master", "master", extra)
        first = len(self.minions)
        for index in range(first, first + count):
            minion_id = f"bench-minion-{index:02d}"
            extra = f"id: {minion_id}\nmaster: 127.0.0.1\nmaster_port: {self.ret}\n"
            self.minions[minion_id] = self._spawn("minion", minion_id, extra)
        ids = json.dumps(sorted(self.minions))
        cmd = [str(SALT_PYTHON), "-c", WAIT_SCRIPT, str(self.master_config), ids, str(deadline_s)]
        try:
            waited = subprocess.run(cmd, capture_output=True, text=True, timeout=deadline_s + 30)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"test.ping did not answer within {deadline_s:g} s") from None
        if waited.returncode != 0:
            lines = waited.stderr.strip().splitlines() or ["test.ping never answered"]
            raise RuntimeError(lines[-1])
        return sorted(self.minions)

    def time_ping(self, target: str, calls: int, timeout_s: float = 30) -> tuple[list[float], int]:
        """Per-call ms of `calls` sequential LocalClient.cmd(target, 'test.ping'), and the
        fewest minions that answered any one call."""
        cmd = [str(SALT_PYTHON), "-c", TIME_SCRIPT, str(self.master_config), target]
        cmd += [str(calls), str(timeout_s)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["the timing script failed"]
            raise RuntimeError(lines[-1])
        out = json.loads(done.stdout.strip().splitlines()[-1])
        return [float(ms) for ms in out["ms"]], min(out["answered"], default=0)

    def stop(self) -> None:
        """Minions first, while their master lives, then the master."""
        kill_trees(list(self.minions.values()))
        self.minions.clear()
        if self.master is not None:
            kill_tree(self.master)
            self.master = None

    def __enter__(self) -> SaltPeer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description="bring up Salt on loopback and time test.ping")
    parser.add_argument("--minions", type=int, default=1)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if (error := ensure_salt()) is not None:
        print(f"salt not measured: {error}")
        return 0  # like the other benches: a missing peer is reported, not a failure
    with tempfile.TemporaryDirectory(prefix="deskside-salt-") as tmp, SaltPeer(Path(tmp)) as salt:
        began = time.monotonic()
        salt.add_minions(args.minions)
        waited = time.monotonic() - began
        print(f"salt {salt_version()}: {args.minions} minion(s) answering after {waited:.1f} s")
        target = "*" if args.minions > 1 else next(iter(salt.minions))
        ms, answered = salt.time_ping(target, args.calls)
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        print(
            f"test.ping {target!r} x{args.calls}: p50 {cuts[49]:.1f} ms, p99 {cuts[98]:.1f} ms,"
            f" max {max(ms):.1f} ms; fewest answers {answered}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
