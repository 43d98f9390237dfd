"""`make run`'s launcher: a controller on SQLite with a local agent visible in the API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from processes import wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_run_local_starts_controller_and_enrolled_agent_then_stops_both(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DESKSIDE_DATA_DIR": str(tmp_path / "var"),
        "DESKSIDE_HTTP_LISTEN": "127.0.0.1:0",
        "DESKSIDE_GRPC_LISTEN": "127.0.0.1:0",
        "DESKSIDE_HEARTBEAT_INTERVAL_S": "1",
    }
    env.pop("DESKSIDE_DATABASE_URL", None)
    env.pop("DESKSIDE_BOOTSTRAP_TOKEN", None)
    launcher = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run_local.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    runtime = tmp_path / "var" / "controller.json"
    try:
        wait_for(runtime.exists, 60, "controller.json")
        info = json.loads(runtime.read_text())
        token = (tmp_path / "var" / "admin-token").read_text().strip()
        assert (tmp_path / "var" / "admin-token").stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "var" / "deskside.db").exists(), "not on SQLite in the data dir"
        headers = {"Authorization": f"Bearer {token}"}

        def local_endpoint_online() -> bool:
            items = httpx.get(f"http://{info['http']}/api/v1/endpoints", headers=headers).json()[
                "items"
            ]
            return any(e["online"] and "local" in e["tags"] for e in items)

        wait_for(local_endpoint_online, 60, "the local agent online")
        password_file = tmp_path / "var" / "admin-password"
        assert password_file.stat().st_mode & 0o777 == 0o600
        console = httpx.post(
            f"http://{info['http']}/login",
            data={"username": "admin", "password": password_file.read_text().strip()},
            headers={"Origin": f"http://{info['http']}"},
        )
        assert console.status_code == 303 and "deskside_session" in console.headers["set-cookie"]
    finally:
        launcher.send_signal(signal.SIGINT)
        output = launcher.communicate(timeout=60)[0].decode()
    assert launcher.returncode == 0, output
    assert "deskside is running" in output and "sign in as admin" in output
    assert not runtime.exists(), "the controller did not stop cleanly"
