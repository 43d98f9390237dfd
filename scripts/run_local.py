"""`make run`: a controller on SQLite in ./var and a local agent enrolled to it.

Ctrl-C (or SIGTERM) stops both. The admin API token is made once per data dir and kept
in DATA_DIR/admin-token (mode 0600), so curl and scripts can use it across restarts.
Any DESKSIDE_* setting in the environment is passed through (ports, intervals, ...).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _admin_token(data_dir: Path) -> str:
    path = data_dir / "admin-token"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"dsk_{secrets.token_urlsafe(32)}\n")
    return path.read_text().strip()


def _wait_for_controller(
    runtime: Path, controller: subprocess.Popen[bytes], log: Path
) -> dict[str, str]:
    deadline = time.monotonic() + 60
    while not runtime.exists():
        if controller.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the controller did not start; its log ({log}):\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return dict(json.loads(runtime.read_text()))


def _enroll(agent_env: dict[str, str], info: dict[str, str], token: str) -> None:
    url = f"http://{info['http']}/api/v1/enrollment-tokens"
    response = httpx.post(
        url, json={"tags": ["local"]}, headers={"Authorization": f"Bearer {token}"}
    )
    response.raise_for_status()
    issued = response.json()
    subprocess.run(
        [
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
        check=True,
    )


def main() -> int:
    data_dir = Path(os.environ.setdefault("DESKSIDE_DATA_DIR", str(ROOT / "var"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = _admin_token(data_dir)
    env = {**os.environ, "DESKSIDE_BOOTSTRAP_TOKEN": token}
    agent_env = {
        **env,
        "DESKSIDE_AGENT_DIR": os.environ.get("DESKSIDE_AGENT_DIR", str(data_dir / "agent")),
    }
    runtime = data_dir / "controller.json"
    runtime.unlink(missing_ok=True)
    controller_log = data_dir / "controller.log"
    agent_log = data_dir / "agent.log"
    with open(controller_log, "ab") as log:
        controller = subprocess.Popen(
            [str(BIN / "deskside-controller"), "serve"], env=env, stdout=log, stderr=log
        )
    children = [controller]

    def stop(*_: object) -> None:
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        info = _wait_for_controller(runtime, controller, controller_log)
        if not (Path(agent_env["DESKSIDE_AGENT_DIR"]) / "agent.toml").exists():
            _enroll(agent_env, info, token)
        with open(agent_log, "ab") as log:
            children.append(
                subprocess.Popen(
                    [str(BIN / "deskside-agent"), "run"], env=agent_env, stdout=log, stderr=log
                )
            )
        print(
            f"\ndeskside is running (Ctrl-C stops it)\n"
            f"  API        http://{info['http']}/api/v1   (OpenAPI: http://{info['http']}/docs)\n"
            f"  gRPC       {info['grpc']}   enrolment {info['enroll']}   CA {info['ca_hash']}\n"
            f"  admin token in {data_dir / 'admin-token'}\n"
            f"  logs       {controller_log}, {agent_log}\n\n"
            f'  try: curl -H "Authorization: Bearer $(cat {data_dir / "admin-token"})" '
            f"http://{info['http']}/api/v1/endpoints\n",
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        stop()
        for child in children:
            child.wait(30)
    return max(child.returncode or 0 for child in children)


if __name__ == "__main__":
    sys.exit(main())
