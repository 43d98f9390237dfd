"""A real OpenSSH server for tests, on loopback or inside a NetnsLab host.

Each Sshd has its own temp dir (host key, config, authorized_keys, log) and runs
`sshd -D -e` as a child; readiness is the "Server listening" log line, which works whether
or not the test process can reach the address. Throwaway users (ThrowawayUser) give
password and sudo tests an account that is removed again at teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from netns import Host
from processes import wait_for

SSHD = "/usr/sbin/sshd"
ROOT = Path(__file__).resolve().parents[1]


def sshd_unavailable() -> str | None:
    """None if real sshd tests can run here, else why not (for require_or_skip)."""
    if os.geteuid() != 0:
        return "real sshd tests need root (throwaway users, sudoers, sshd's privilege drop)"
    missing = [b for b in (SSHD, "ssh-keygen", "useradd", "sudo") if not shutil.which(b)]
    if missing:
        return f"missing {missing}: apt-get install openssh-server openssh-client sudo"
    return None


def keypair(directory: Path, name: str, kind: str = "ed25519") -> tuple[str, str]:
    """(private key text, public key line) of a new key without passphrase."""
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", name, "-f", str(path)], check=True
    )
    return path.read_text(), (directory / f"{name}.pub").read_text().strip()


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


class Sshd:
    """One sshd; `host_key` is what a pinned Target carries ("ssh-ed25519 AAAA...")."""

    def __init__(
        self,
        *,
        address: str = "127.0.0.1",
        port: int | None = None,
        authorized_keys: Sequence[str] = (),
        password_auth: bool = False,
        host: Host | None = None,
    ) -> None:
        self.address = address
        self.port = port or free_port(address)
        self.host = host
        # Readable by everyone: sshd reads authorized_keys as the (maybe unprivileged) user.
        self.dir = Path(tempfile.mkdtemp(prefix="ds-sshd-"))
        self.dir.chmod(0o755)
        self.log_path = self.dir / "sshd.log"
        keys = self.dir / "authorized_keys"
        keys.write_text("".join(f"{k}\n" for k in authorized_keys))
        keys.chmod(0o644)
        (self.dir / "sshd_config").write_text(
            f"Port {self.port}\n"
            f"ListenAddress {address}\n"
            f"HostKey {self.dir / 'host_key'}\n"
            f"PidFile {self.dir / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {keys}\n"
            f"PasswordAuthentication {'yes' if password_auth else 'no'}\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin yes\n"
            "UsePAM no\n"
            "StrictModes no\n"
            "LogLevel VERBOSE\n"
            # The defaults (10 unauthenticated, random drops above) would break fan-outs.
            "MaxStartups 200\n"
        )
        self.new_host_key()
        self.process: subprocess.Popen[bytes] | None = None

    def new_host_key(self) -> None:
        """Replace the host key; a running sshd uses it after restart()."""
        for old in self.dir.glob("host_key*"):
            old.unlink()
        keypair(self.dir, "host_key")

    @property
    def host_key(self) -> str:
        return " ".join((self.dir / "host_key.pub").read_text().split()[:2])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> Sshd:
        # Privilege separation directory; sshd refuses to start without it.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        argv = [SSHD, "-D", "-e", "-f", str(self.dir / "sshd_config")]
        offset = len(self.log())
        with open(self.log_path, "ab") as log:
            if self.host is None:
                self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            else:
                self.process = self.host.popen(argv, stdout=log, stderr=subprocess.STDOUT)

        def listening() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"sshd exited {self.process.returncode}:\n{self.log()}")
            return "Server listening on" in self.log()[offset:]

        wait_for(listening, 10, f"sshd on {self.address}:{self.port}", interval=0.02)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ThrowawayUser:
    """A local account with a known password, optionally allowed `sudo -n` (NOPASSWD)."""

    def __init__(self, password: str, *, sudo: bool = False) -> None:
        self.name = f"dsssh{os.getpid() % 100000}"
        self.password = password
        self.sudoers = Path(f"/etc/sudoers.d/ds-test-{self.name}")
        subprocess.run(["useradd", "-M", "-d", "/", "-s", "/bin/sh", self.name], check=True)
        subprocess.run(["chpasswd"], input=f"{self.name}:{password}\n", text=True, check=True)
        if sudo:
            self.sudoers.write_text(f"{self.name} ALL=(root) NOPASSWD: ALL\n")
            self.sudoers.chmod(0o440)

    def remove(self) -> None:
        self.sudoers.unlink(missing_ok=True)
        # Its sessions (a command left running by a timeout test) would outlive the account
        # and hold its uid, which the next throwaway account of any test then gets.
        subprocess.run(["pkill", "-KILL", "-U", self.name], check=False, capture_output=True)
        subprocess.run(["userdel", "-f", self.name], check=False, capture_output=True)


@contextlib.contextmanager
def running(*servers: Sshd) -> Iterator[tuple[Sshd, ...]]:
    try:
        yield tuple(s.start() for s in servers)
    finally:
        for server in servers:
            server.close()


def fan_out_in(host: Host, spec: dict[str, Any]) -> dict[str, Any]:
    """Run `_fan_out` inside a lab host's namespace (the only side that reaches the lab).

    spec: {"targets": {name: Target fields, "jump": {...}?}, "argv": [...],
    "timeout_s": float, "rounds": int}; answers {"results", "order", "opened"}.
    """
    done = host.run(
        [sys.executable, "-c", "import sshd; sshd._fan_out_main()"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'tests'}:{ROOT}"},
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _fan_out_main() -> None:
    from catalogue import ActionResult
    from controller.transports.base import RemoteContext, Target
    from controller.transports.ssh import SshTransport

    def target(fields: dict[str, Any]) -> Target:
        jump = fields.pop("jump", None)
        return Target(**fields, jump=target(jump) if jump else None)

    def run_argv(params: dict[str, Any], ctx: RemoteContext) -> ActionResult:
        done = ctx.run(params["argv"])
        return ActionResult(output=done.stdout, data={"returncode": done.returncode})

    async def main(spec: dict[str, Any]) -> dict[str, Any]:
        transport = SshTransport({"process.list": run_argv}, inventory=lambda ctx: {})
        order: list[str] = []

        async def one(name: str, fields: dict[str, Any]) -> tuple[str, Any]:
            result = await transport.run_action(
                target(dict(fields)),
                "process.list",
                {"argv": spec["argv"]},
                dry_run=False,
                timeout_s=spec["timeout_s"],
            )
            order.append(name)
            return name, result.model_dump(mode="json")

        results: dict[str, Any] = {}
        for _ in range(spec.get("rounds", 1)):
            order.clear()
            results = dict(await asyncio.gather(*(one(n, f) for n, f in spec["targets"].items())))
        opened = transport.pool.opened
        await transport.aclose()
        return {"results": results, "order": order, "opened": opened}

    print(json.dumps(asyncio.run(main(json.load(sys.stdin)))))
