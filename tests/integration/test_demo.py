"""`deskside demo`: a controller, two real agents, a seeded desk and injected faults, through
the installed command; then Ctrl-C (or --exit-after-seed) must leave no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import IO, Any

import httpx
from processes import BIN, wait_for

DEMO_TIMEOUT_S = 300


def _demo(directory: Path, *extra: str) -> subprocess.Popen[str]:
    """The demo with two agents on any free port; what it says on stderr goes to a file
    beside its dir (a pipe nobody reads could fill up and stall it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKSIDE_")}
    argv = [str(BIN / "deskside"), "demo", "--dir", str(directory), "--agents", "2"]
    with open(directory.parent / f"{directory.name}-demo.err", "a") as stderr:
        return subprocess.Popen(
            [*argv, "--port", "0", "--json", *extra],
            env=env | {"COLUMNS": "250"},
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


def _stderr(directory: Path) -> str:
    return (directory.parent / f"{directory.name}-demo.err").read_text()


def _read_report(stdout: IO[str]) -> dict[str, Any]:
    """The JSON report, printed whole once the demo is ready (a closing brace at column 0)."""
    lines = []
    for line in stdout:
        lines.append(line)
        if line.rstrip("\n") == "}":
            return dict(json.loads("".join(lines)))
    raise AssertionError(f"the demo ended before its report: {''.join(lines)}")


def _gone(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return True
    # A recycled pid is someone else's process: only a deskside one or the demo's hog counts.
    return b"deskside" not in cmdline and b"demohog" not in cmdline


def _namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in listed.splitlines() if line.strip()}


def _admin(report: dict[str, Any]) -> httpx.Client:
    token = (Path(report["data_dir"]) / "admin-token").read_text().strip()
    return httpx.Client(
        base_url=report["url"] + "/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )


def _assert_seeded(report: dict[str, Any]) -> None:
    for username, user in report["users"].items():
        signed_in = httpx.post(
            report["url"] + "/api/v1/auth/login",
            json={"username": username, "password": user["password"]},
        )
        assert signed_in.status_code == 200, (username, signed_in.text)
        assert signed_in.json()["role"] == user["role"]
    assert {u["role"] for u in report["users"].values()} >= {"tier1", "tier2", "usa", "requester"}
    with _admin(report) as admin:
        tickets = admin.get("/tickets", params={"limit": 100}).json()["items"]
        titles = {t["title"] for t in tickets}
        assert {t["title"] for t in report["tickets"]} <= titles
        (fault,) = [f for f in report["faults"] if f["kind"] == "disk-full"]
        linked = admin.get("/tickets", params={"endpoint_id": fault["endpoint_id"]})
        assert "My PC says the disk is full" in {t["title"] for t in linked.json()["items"]}
        online = admin.get("/endpoints", params={"tag": "demo", "online": True}).json()["items"]
        assert sorted(e["id"] for e in online) == sorted(e["id"] for e in report["endpoints"])
        teams = {t["name"] for t in admin.get("/teams").json()["items"]}
        assert {"Service Desk", "Tier 2", "Application Support"} <= teams
        assert len(admin.get("/kb/search", params={"q": "disk"}).json()["items"]) >= 1


def _assert_stopped(demo: subprocess.Popen[str], report: dict[str, Any]) -> None:
    assert demo.returncode == 0, _stderr(Path(report["data_dir"]))
    leftovers = [pid for pid in report["pids"] if not _gone(pid)]
    assert leftovers == [], f"still running: {leftovers}"
    assert not (Path(report["data_dir"]) / "controller.json").exists(), "controller not clean"


def test_the_demo_seeds_a_desk_whose_faults_get_fixed_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    demo = _demo(tmp_path / "demo")
    try:
        assert demo.stdout is not None
        report = _read_report(demo.stdout)
        assert len(report["pids"]) == 4, report["pids"]  # controller, 2 agents, the hog
        namespaces = [e["namespace"] for e in report["endpoints"] if e["namespace"]]
        if os.geteuid() == 0:
            assert len(namespaces) == 2, "root: the agents get network namespaces"
            assert set(namespaces) <= _namespaces()
        _assert_seeded(report)
        (runaway,) = [f for f in report["faults"] if f["kind"] == "runaway-process"]
        (disk_full,) = [f for f in report["faults"] if f["kind"] == "disk-full"]
        temp = Path(disk_full["path"])
        assert temp.is_relative_to(tmp_path) and sum(1 for _ in temp.iterdir()) > 0
        with _admin(report) as admin:
            # The loop: the health check finds the hog and its playbook stops it by itself.
            wait_for(lambda: _gone(runaway["pid"]), 180, "the runaway stopped by the loop")

            def resolved_by_the_loop() -> list[dict[str, Any]]:
                params = {"endpoint_id": runaway["endpoint_id"], "state": "resolved"}
                found = admin.get("/tickets", params=params).json()["items"]
                return [t for t in found if t["channel"] == "monitoring"]

            wait_for(resolved_by_the_loop, 180, "the loop's ticket resolved", interval=1)
            runs = admin.get("/playbook-runs", params={"endpoint_id": runaway["endpoint_id"]})
            assert any(r["state"] == "succeeded" for r in runs.json()["items"]), runs.text
            # The fix the tour has an analyst run from the ticket page, through the API.
            body = {
                "playbook": disk_full["playbook"],
                "inputs": disk_full["inputs"],
                "endpoint_id": disk_full["endpoint_id"],
                "ticket_id": report["tickets"][0]["id"],
            }
            played = admin.post("/playbook-runs", params={"wait_s": 120}, json=body)
            assert played.status_code == 201, played.text
            (run,) = played.json()["items"]
            assert run["state"] == "succeeded", run["summary"]
            assert list(temp.iterdir()) == []
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(DEMO_TIMEOUT_S)
    _assert_stopped(demo, report)
    assert not set(namespaces) & _namespaces(), "namespaces left behind"
    # Nor anything running in them (which would keep them, and their veths, alive unnamed).
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert f"dsd{demo.pid}h" not in links and f"dsdemo{demo.pid}" not in links, links


def test_exit_after_seed_stops_everything_it_started(tmp_path: Path) -> None:
    demo = _demo(tmp_path / "demo", "--exit-after-seed", "--no-netns")
    stdout, _ = demo.communicate(timeout=DEMO_TIMEOUT_S)
    assert demo.returncode == 0, stdout + _stderr(tmp_path / "demo")
    report = json.loads(stdout)
    assert [e["hostname"] for e in report["endpoints"]] == ["demo-pc-1", "demo-pc-2"]
    assert [e["namespace"] for e in report["endpoints"]] == [None, None]  # local processes
    _assert_stopped(demo, report)
    # A second demo in the same dir starts afresh (the dir is the demo's own) ...
    again = _demo(tmp_path / "demo", "--exit-after-seed")
    assert again.communicate(timeout=DEMO_TIMEOUT_S)[0].count('"demo-pc-1"') >= 1
    assert again.returncode == 0


def test_a_dir_that_is_not_the_demos_is_left_alone(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "precious.txt").write_text("keep me")
    refused = _demo(mine)
    stdout, _ = refused.communicate(timeout=DEMO_TIMEOUT_S)
    assert refused.returncode == 1 and "not a demo dir" in stdout
    assert (mine / "precious.txt").read_text() == "keep me"
    assert not (mine / "deskside.db").exists()
