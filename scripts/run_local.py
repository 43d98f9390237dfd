"""`make run`: a controller on SQLite in ./var and a local agent enrolled to it.

Ctrl-C (or SIGTERM) stops both. The admin API token is made once per data dir and kept
in DATA_DIR/admin-token (mode 0600), so curl and scripts can use it across restarts; the
admin's first console password likewise in DATA_DIR/admin-password.
Any DESKSIDE_* setting in the environment is passed through (ports, intervals, ...).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from controller.demo.fleet import (
    FleetError,
    admin_password,
    admin_token,
    enroll,
    wait_for_controller,
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> int:
    data_dir = Path(os.environ.setdefault("DESKSIDE_DATA_DIR", str(ROOT / "var"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = admin_token(data_dir)
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
        try:
            info = wait_for_controller(runtime, controller, controller_log)
            password = admin_password(data_dir, info["http"], token)
            if not (Path(agent_env["DESKSIDE_AGENT_DIR"]) / "agent.toml").exists():
                enroll(agent_env, info, token, tags=["local"])
        except FleetError as exc:
            sys.exit(str(exc))
        with open(agent_log, "ab") as log:
            children.append(
                subprocess.Popen(
                    [str(BIN / "deskside-agent"), "run"], env=agent_env, stdout=log, stderr=log
                )
            )
        print(
            f"\ndeskside is running (Ctrl-C stops it)\n"
            f"  console    http://{info['http']}/   (sign in as admin; password in {password})\n"
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
