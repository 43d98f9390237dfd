"""Real controller and agent processes for integration tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

ADMIN_TOKEN = "dsk_test_admin_token_0123456789"
BIN = Path(sys.executable).parent


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class ManagedProcess:
    """A deskside command run as a child process, its output in a log file."""

    log_path: Path
    launcher: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def _spawn(self, *argv: str) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*self.launcher, *argv], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self.process

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Signal the process and wait; a process that will not stop fails the test."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(
                f"{self.log_path.name}: did not stop on {sig}:\n{self.log()}"
            ) from None


class ControllerProcess(ManagedProcess):
    """`deskside-controller serve` on port 0 in its own data dir."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        *,
        listen_host: str = "127.0.0.1",
        heartbeat_s: float = 1.0,
        inventory_s: float = 2.0,
        extra_env: dict[str, str] | None = None,
        launcher: Sequence[str] = (),
    ) -> None:
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "DESKSIDE_DATA_DIR": str(data_dir),
            "DESKSIDE_DATABASE_URL": database_url,
            "DESKSIDE_HTTP_LISTEN": f"{listen_host}:0",
            "DESKSIDE_GRPC_LISTEN": f"{listen_host}:0",
            "DESKSIDE_BOOTSTRAP_TOKEN": ADMIN_TOKEN,
            "DESKSIDE_HEARTBEAT_INTERVAL_S": str(heartbeat_s),
            "DESKSIDE_INVENTORY_INTERVAL_S": str(inventory_s),
            **(extra_env or {}),
        }
        self.launcher = list(launcher)
        self.log_path = data_dir / "controller.log"
        self.info: dict[str, Any] = {}

    def start(self) -> ControllerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        runtime = self.data_dir / "controller.json"
        runtime.unlink(missing_ok=True)
        process = self._spawn(str(BIN / "deskside-controller"), "serve")
        wait_for(lambda: runtime.exists() or process.poll() is not None, 60, "controller start")
        if not runtime.exists():
            raise AssertionError(f"controller exited early:\n{self.log()}")
        self.info = json.loads(runtime.read_text())
        return self

    def restart(self) -> ControllerProcess:
        """Stop, then start again on the same ports, so agents find it where they left it."""
        self.stop()
        for name, key in (("HTTP", "http"), ("GRPC", "grpc"), ("ENROLL", "enroll")):
            self.env[f"DESKSIDE_{name}_LISTEN"] = self.info[key]
        return self.start()

    @property
    def url(self) -> str:
        return f"http://{self.info['http']}"

    @property
    def smtp_address(self) -> tuple[str, int]:
        """The e-mail intake's host and port (DESKSIDE_SMTP_LISTEN in extra_env)."""
        if "smtp" not in self.info:
            raise AssertionError("this controller has no e-mail intake: set DESKSIDE_SMTP_LISTEN")
        host, _, port = str(self.info["smtp"]).rpartition(":")
        return host.strip("[]"), int(port)

    def client(self, token: str | None = ADMIN_TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)

    def endpoint(self, endpoint_id: str) -> dict[str, Any]:
        with self.client() as client:
            response = client.get(f"/endpoints/{endpoint_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def enrollment_token(self, **body: Any) -> dict[str, Any]:
        with self.client() as client:
            response = client.post("/enrollment-tokens", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())


class AgentProcess(ManagedProcess):
    """`deskside-agent` with its own state dir."""

    def __init__(
        self, state_dir: Path, *, launcher: Sequence[str] = (), max_backoff_s: float = 1.0
    ) -> None:
        self.state_dir = state_dir
        self.launcher = list(launcher)
        self.env = {
            **os.environ,
            "DESKSIDE_AGENT_DIR": str(state_dir),
            "DESKSIDE_AGENT_MAX_BACKOFF_S": str(max_backoff_s),
            "DESKSIDE_AGENT_LOG_LEVEL": "debug",
        }
        self.log_path = state_dir.parent / f"{state_dir.name}.log"

    def command(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.launcher, str(BIN / "deskside-agent"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def enroll(
        self, controller: ControllerProcess, token: dict[str, Any], address: str | None = None
    ) -> str:
        grpc_address = address or controller.info["grpc"]
        enroll_port = controller.info["enroll"].rsplit(":", 1)[1]
        host = grpc_address.rsplit(":", 1)[0]
        result = self.command(
            "enroll",
            "--controller", grpc_address,
            "--enroll-address", f"{host}:{enroll_port}",
            "--token", token["token"],
            "--ca-hash", token["ca_hash"],
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return str(json.loads(self.command("status").stdout)["endpoint_id"])

    def start(self) -> AgentProcess:
        self._spawn(str(BIN / "deskside-agent"), "run")
        return self
