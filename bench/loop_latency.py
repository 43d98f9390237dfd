"""From a fault to its ticket resolved with evidence: how long the loop takes, alone.

A real controller (SQLite in a temp dir) and a real agent on loopback; a SysV test daemon
(tests/fixtures/deskside-testd.init, installed for the run: needs root and no systemd) is
watched by a `service.running` check every second with the `service-down` playbook. Each
round stops the daemon for real and times, from the stop: the loop's ticket opened, the
daemon running again, and the ticket resolved (the check's next ok result verifies). Rounds
wait for the check to be ok again first.

    python bench/loop_latency.py [--rounds 10] [--json out.json]

There is no peer to run beside it here: Salt's beacons and reactor can restart a service,
but open no ticket and verify nothing, so the figure would not compare like with like.
A benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from processes import AgentProcess, ControllerProcess, wait_for  # noqa: E402
from report import render  # noqa: E402

DAEMON = "deskside-testd"
INIT_SCRIPT = Path("/etc/init.d") / DAEMON
GOAL_S = 5.0
POLL_S = 0.05


def running() -> bool:
    return subprocess.run(["service", DAEMON, "status"], capture_output=True).returncode == 0


def since(start: float, when: str) -> float:
    return dt.datetime.fromisoformat(when).timestamp() - start


def check_ok(client: httpx.Client, endpoint_id: str) -> bool:
    (view,) = client.get(f"/endpoints/{endpoint_id}/checks").json()
    return view["state"] is not None and view["state"]["status"] == "ok"


def resolved_ticket(client: httpx.Client, endpoint_id: str, name: str, known: set[int]) -> Any:
    listed = client.get("/tickets", params={"endpoint_id": endpoint_id, "limit": 100})
    for ticket in listed.json()["items"]:
        fresh = ticket["id"] not in known and name in ticket["title"]
        if fresh and ticket["state"] == "resolved":
            return ticket
    return None


def round_trip(client: httpx.Client, endpoint_id: str, check: dict[str, Any]) -> dict[str, float]:
    name = check["name"]
    known = {
        t["id"]
        for t in client.get("/tickets", params={"endpoint_id": endpoint_id, "limit": 100}).json()[
            "items"
        ]
    }
    wait_for(running, 60, "the daemon running before the fault")
    wait_for(lambda: check_ok(client, endpoint_id), 60, "the check ok before the fault")
    start = time.time()
    subprocess.run(["service", DAEMON, "stop"], check=True)
    fixed_at = None
    while True:
        if fixed_at is None and running():
            fixed_at = time.time()
        ticket = resolved_ticket(client, endpoint_id, name, known)
        if ticket is not None:
            break
        if time.time() - start > 120:
            raise RuntimeError("no resolved ticket within 120 s")
        time.sleep(POLL_S)
    return {
        "ticket opened": since(start, ticket["created_at"]),
        "daemon running again": (fixed_at or time.time()) - start,
        "ticket resolved": since(start, ticket["resolved_at"]),
    }


def measure(work: Path, rounds: int) -> dict[str, Any]:
    controller = ControllerProcess(work / "controller", f"sqlite:///{work / 'bench.db'}").start()
    agent = AgentProcess(work / "agent")
    try:
        endpoint_id = agent.enroll(controller, controller.enrollment_token())
        (work / "agent" / "policy.toml").write_text('max_risk = "medium"\n')
        agent.start()
        wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "agent online")
        with controller.client() as client:
            client.post("/teams", json={"name": "Desktop Support"})
            created = client.post(
                "/checks",
                json={
                    "name": f"{DAEMON} runs",
                    "check": "service.running",
                    "params": {"name": DAEMON},
                    "endpoint_ids": [endpoint_id],
                    "interval_s": 1,
                    "playbook": "service-down",
                    "playbook_inputs": {"service": DAEMON},
                    "cooldown_s": 0,
                    "max_fixes": 100,
                },
            )
            created.raise_for_status()
            samples = []
            for index in range(rounds):
                print(f"round {index + 1}/{rounds}...", flush=True)
                samples.append(round_trip(client, endpoint_id, created.json()))
    finally:
        agent.stop()
        controller.stop()
    return {"rounds": rounds, "samples": samples}


def table(results: dict[str, Any]) -> str:
    samples = results["samples"]
    rows = [["figure (s from the fault)", "deskside", "goal", "peer", "ratio"]]
    for key in ("ticket opened", "daemon running again", "ticket resolved"):
        values = [s[key] for s in samples]
        goal = f"<= {GOAL_S:g} " + ("ok" if statistics.median(values) <= GOAL_S else "MISSED")
        rows.append(
            [
                f"{key}: median (max) of {len(values)}",
                f"{statistics.median(values):.2f} ({max(values):.2f})",
                goal if key == "ticket resolved" else "",
                "-",
                "-",
            ]
        )
    return render(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("start-stop-daemon"):
        print("needs root and start-stop-daemon (to install the SysV test daemon)")
        return 2
    if Path("/run/systemd/system").is_dir():
        print("this machine runs systemd; the bench drives the SysV test daemon")
        return 2
    shutil.copyfile(ROOT / "tests" / "fixtures" / f"{DAEMON}.init", INIT_SCRIPT)
    INIT_SCRIPT.chmod(0o755)
    subprocess.run(["service", DAEMON, "start"], check=True)
    try:
        with tempfile.TemporaryDirectory(prefix="deskside-loop-") as work:
            results = measure(Path(work), args.rounds)
    finally:
        subprocess.run(["service", DAEMON, "stop"], check=False)
        INIT_SCRIPT.unlink(missing_ok=True)
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    python = platform.python_version()
    print(f"\n{stamp}  {os.cpu_count()} cores, {platform.platform()}, Python {python}")
    print("check every 1 s, playbook service-down; no peer runs here (see the docstring)")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
