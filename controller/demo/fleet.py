"""A controller and local agents as child processes: what `make run` and `deskside demo`
share. Every process started here is tracked, so stopping leaves nothing behind."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from controller.demo.network import DemoNetwork

BIN = Path(sys.executable).parent
STOP_TIMEOUT_S = 30


class FleetError(RuntimeError):
    """A process of the fleet did not start (the message says which, with its log)."""


def admin_token(data_dir: Path) -> str:
    """The bootstrap admin API token, made once per data dir and kept there (mode 0600)."""
    path = data_dir / "admin-token"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"dsk_{secrets.token_urlsafe(32)}\n")
    return path.read_text().strip()


def admin_password(data_dir: Path, http: str, token: str) -> Path:
    """Give the bootstrap admin a console password, once: made here, kept in
    DATA_DIR/admin-password (mode 0600). An admin who already has one keeps it."""
    path = data_dir / "admin-password"
    api = httpx.Client(
        base_url=f"http://{http}/api/v1", headers={"Authorization": f"Bearer {token}"}
    )
    with api:
        me = api.get("/me")
        me.raise_for_status()
        if me.json()["user"]["has_password"]:
            return path
        password = secrets.token_urlsafe(18)
        api.patch("/me", json={"password": password}).raise_for_status()
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return path


def wait_for_controller(
    runtime: Path, controller: subprocess.Popen[bytes], log: Path, timeout_s: float = 60
) -> dict[str, str]:
    """The controller's runtime file (its real addresses) once it has written it."""
    deadline = time.monotonic() + timeout_s
    while not runtime.exists():
        if controller.poll() is not None or time.monotonic() > deadline:
            raise FleetError(f"the controller did not start; its log ({log}):\n{_tail(log)}")
        time.sleep(0.1)
    return dict(json.loads(runtime.read_text()))


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def enroll(
    agent_env: dict[str, str],
    info: dict[str, str],
    token: str,
    *,
    tags: list[str],
    site_id: int | None = None,
    launcher: list[str] | None = None,
) -> None:
    """Issue an enrolment token through the API and enrol the agent of agent_env with it."""
    response = httpx.post(
        f"http://{info['http']}/api/v1/enrollment-tokens",
        json={"tags": tags, "site_id": site_id},
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    issued = response.json()
    done = subprocess.run(
        [
            *(launcher or []),
            str(BIN / "deskside-agent"),
            "enroll",
            "--controller",
            info["grpc"],
            "--enroll-address",
            info["enroll"],
            "--token",
            issued["token"],
            "--ca-hash",
            issued["ca_hash"],
        ],
        env=agent_env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise FleetError(f"enrolling the agent failed:\n{done.stdout}{done.stderr}")


def can_name_hosts() -> bool:
    """True when agents can get a hostname of their own (a UTS namespace: root + unshare)."""
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("hostname")):
        return False
    probe = ["unshare", "--uts", "hostname", "deskside-probe"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def host_launcher(hostname: str) -> list[str]:
    """A prefix that runs a command under its own hostname; `exec` keeps the pid, so a
    signal to the process we started reaches the agent itself."""
    return ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname]


@dataclass
class DemoAgent:
    """One agent of the demo fleet: its own state dir, scratch dir and hostname."""

    index: int
    hostname: str
    state_dir: Path
    scratch: Path
    launcher: list[str]
    endpoint_id: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DESKSIDE_AGENT_DIR": str(self.state_dir),
            "DESKSIDE_AGENT_MAX_BACKOFF_S": "2",
        }


@dataclass
class Fleet:
    """The processes of one demo, its data in `root`: controller, agents, injected faults;
    and its network, when the agents live in namespaces."""

    root: Path
    http_port: int
    network: DemoNetwork | None = None
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.info['http']}"

    def spawn(self, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            child = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        self.children.append(child)
        # Reaped as soon as it ends: a zombie still counts as running for process checks.
        threading.Thread(target=child.wait, daemon=True).start()
        return child

    def start_controller(self) -> dict[str, str]:
        self.token = admin_token(self.root)
        # Agents in namespaces reach the controller on the demo's bridge only.
        grpc_host = self.network.controller_ip if self.network else "127.0.0.1"
        env = {
            **os.environ,
            "DESKSIDE_DATA_DIR": str(self.root),
            "DESKSIDE_BOOTSTRAP_TOKEN": self.token,
            "DESKSIDE_HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
            "DESKSIDE_GRPC_LISTEN": f"{grpc_host}:0",
            "DESKSIDE_HEARTBEAT_INTERVAL_S": "2",
            "DESKSIDE_INVENTORY_INTERVAL_S": "60",
        }
        env.pop("DESKSIDE_DATABASE_URL", None)  # the demo is always SQLite in its own dir
        runtime = self.root / "controller.json"
        runtime.unlink(missing_ok=True)
        log = self.root / "controller.log"
        process = self.spawn([str(BIN / "deskside-controller"), "serve"], env, log)
        self.info = wait_for_controller(runtime, process, log)
        return self.info

    def new_agent(self, index: int, hostname: str, own_hostname: bool) -> DemoAgent:
        state_dir = self.root / "agents" / hostname
        scratch = self.root / "scratch" / hostname
        state_dir.mkdir(parents=True)
        scratch.mkdir(parents=True)
        # The agent may change files only in its scratch dir, whatever the controller asks.
        (state_dir / "policy.toml").write_text(
            f'max_risk = "medium"\nallowed_paths = ["{scratch}"]\n'
        )
        launcher = self.network.add_host(index) if self.network else []
        launcher += host_launcher(hostname) if own_hostname else []
        return DemoAgent(index, hostname, state_dir, scratch, launcher)

    def start_agent(self, agent: DemoAgent, tags: list[str], site_id: int | None) -> None:
        enroll(
            agent.env, self.info, self.token, tags=tags, site_id=site_id, launcher=agent.launcher
        )
        status = subprocess.run(
            [str(BIN / "deskside-agent"), "status"], env=agent.env, capture_output=True, text=True
        )
        agent.endpoint_id = str(json.loads(status.stdout)["endpoint_id"])
        log = self.root / "agents" / f"{agent.hostname}.log"
        self.spawn([*agent.launcher, str(BIN / "deskside-agent"), "run"], agent.env, log)

    def pids(self) -> list[int]:
        return [child.pid for child in self.children]

    def stop(self) -> None:
        """Stop every process started, newest first (agents before their controller), then
        remove the demo's network."""
        for child in reversed(self.children):
            if child.poll() is None:
                child.terminate()
        for child in reversed(self.children):
            try:
                child.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self.network is not None:
            self.network.remove()


def wait_until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise FleetError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.3)
