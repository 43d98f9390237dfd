"""Agentless endpoints for real: a controller in one network namespace reaches three real
sshd in three others (and a fourth host where nothing listens) through the REST API.

Enrolment pins the host key it sees; runs and playbooks go through the same /runs and
/playbook-runs as agents' and land with the same result shape; a host whose key changed
is refused while the others go on; a dead host fails fast and alone. The controller runs on
SQLite: PostgreSQL listens on the root namespace's loopback, which lab hosts cannot reach.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databases import fresh_database, require_or_skip
from lab_api import LabApi
from netns import NetnsLab, netns_available
from processes import ControllerProcess
from sshd import Sshd, keypair, sshd_unavailable

SSH_HOSTS = ["s1", "s2", "s3"]
TAG = "ssh-lab"


@pytest.fixture(scope="module")
def lab() -> Iterator[NetnsLab]:
    require_or_skip(netns_available() or sshd_unavailable())
    with NetnsLab("dsag") as lab:
        lab.add_hosts(["ctl", *SSH_HOSTS, "dead"])
        yield lab


@pytest.fixture(scope="module")
def fleet(lab: NetnsLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("agentless")
    private_key, public_key = keypair(base, "client")
    servers = {
        name: Sshd(address=lab[name].address, port=22, authorized_keys=[public_key], host=lab[name])
        for name in SSH_HOSTS
    }
    ctl = lab["ctl"]
    with fresh_database("sqlite", base) as database:
        controller = ControllerProcess(
            base / "controller",
            database,
            listen_host=ctl.address,
            inventory_s=3600,
            launcher=["ip", "netns", "exec", ctl.netns],
        )
        try:
            for server in servers.values():
                server.start()
            controller.start()
            api = LabApi(ctl, controller.url)
            enrolled = {
                name: api.request("POST", "/endpoints", _enrolment(lab, name, private_key))
                for name in SSH_HOSTS
            }
            yield {
                "api": api,
                "servers": servers,
                "enrolled": enrolled,
                "private_key": private_key,
                "base": base,
            }
        finally:
            controller.stop()
            for server in servers.values():
                server.close()


def _enrolment(lab: NetnsLab, name: str, private_key: str, **extra: Any) -> dict[str, Any]:
    return {
        "transport": "ssh",
        "hostname": f"kiosk-{name}",
        "address": lab[name].address,
        "username": "root",
        "private_key": private_key,
        "tags": [TAG],
        **extra,
    }


def _run(api: LabApi, body: dict[str, Any]) -> list[dict[str, Any]]:
    created = api.request("POST", "/runs?wait_s=60", body)
    return list(created["items"])


def test_enrolment_pins_the_key_it_sees_and_keeps_the_secrets(fleet: dict[str, Any]) -> None:
    for name, endpoint in fleet["enrolled"].items():
        assert endpoint["transport"] == "ssh"
        assert endpoint["connectivity"] == {"ok": True, "code": None, "message": ""}, name
        assert endpoint["remote"]["host_key"] == fleet["servers"][name].host_key
        assert endpoint["online"] and endpoint["os_family"] == "linux"
        assert "PRIVATE KEY" not in str(endpoint) and "credentials" not in endpoint
        again = fleet["api"].request("GET", f"/endpoints/{endpoint['id']}")
        assert "PRIVATE KEY" not in str(again) and again["remote"]["username"] == "root"
        inventory = fleet["api"].request("GET", f"/endpoints/{endpoint['id']}/inventory")
        assert inventory["sections"]["os"]["family"] == "linux"


def test_one_action_fans_out_to_every_host_with_the_agents_result_shape(
    fleet: dict[str, Any],
) -> None:
    runs = _run(
        fleet["api"], {"action": "log.tail", "params": {"path": "/etc/hostname"}, "tags": [TAG]}
    )
    assert sorted(r["endpoint_id"] for r in runs) == sorted(
        e["id"] for e in fleet["enrolled"].values()
    )
    expected = Path("/etc/hostname").read_text().strip()
    for run in runs:
        assert run["state"] == "succeeded", run
        assert expected in run["result"]["output"]
        assert set(run["result"]) >= {"changed", "output", "data", "evidence", "error"}


def test_a_playbook_runs_on_an_ssh_host_for_real(fleet: dict[str, Any]) -> None:
    work = fleet["base"] / "temp-s1"
    work.mkdir()
    old = time.time() - 30 * 86400
    for n in range(5):
        junk = work / f"junk-{n}.tmp"
        junk.write_bytes(b"x" * 4096)
        os.utime(junk, (old, old))
    (work / "fresh.tmp").write_text("keep me")
    endpoint_id = fleet["enrolled"]["s1"]["id"]
    started = fleet["api"].request(
        "POST",
        "/playbook-runs",
        {
            "playbook": "disk-full-temp",
            "endpoint_id": endpoint_id,
            "inputs": {"path": str(work), "max_bytes": 10_000},
        },
    )
    run_id = started["items"][0]["id"]
    deadline = time.monotonic() + 60
    while (run := fleet["api"].request("GET", f"/playbook-runs/{run_id}"))["state"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, run
        time.sleep(0.5)
    assert run["state"] == "succeeded", run
    assert sorted(p.name for p in work.iterdir()) == ["fresh.tmp"]  # removed over ssh


def test_a_changed_host_key_is_refused_while_the_others_go_on(
    fleet: dict[str, Any], lab: NetnsLab
) -> None:
    # The machine was reinstalled: a new host key, and its old sessions are gone with it.
    server: Sshd = fleet["servers"]["s2"]
    server.stop()
    sessions = subprocess.run(
        ["ip", "netns", "pids", lab["s2"].netns], capture_output=True, text=True, check=True
    )
    for pid in sessions.stdout.split():
        os.kill(int(pid), signal.SIGKILL)
    server.new_host_key()
    server.start()
    log_offset = len(server.log())
    runs = _run(
        fleet["api"], {"action": "log.tail", "params": {"path": "/etc/hostname"}, "tags": [TAG]}
    )
    by_host = {r["endpoint_id"]: r for r in runs}
    s2 = by_host.pop(fleet["enrolled"]["s2"]["id"])
    assert s2["state"] == "failed" and s2["result"]["error"]["code"] == "host_key_refused"
    assert all(r["state"] == "succeeded" for r in by_host.values())
    assert "Accepted" not in server.log()[log_offset:], "it authenticated to a changed host"
    assert not fleet["api"].online(fleet["enrolled"]["s2"]["id"])
    # The admin learns it was a reinstall and pins the new key, explicitly.
    trusted = fleet["api"].request(
        "POST", f"/endpoints/{fleet['enrolled']['s2']['id']}/trust-host-key", {}
    )
    assert trusted["remote"]["host_key"] == server.host_key
    (again,) = _run(
        fleet["api"],
        {
            "action": "log.tail",
            "params": {"path": "/etc/hostname"},
            "endpoint_id": fleet["enrolled"]["s2"]["id"],
        },
    )
    assert again["state"] == "succeeded", again


def test_a_dead_host_fails_fast_and_alone(fleet: dict[str, Any], lab: NetnsLab) -> None:
    pinned = fleet["servers"]["s1"].host_key  # nothing listens there to show one
    dead = fleet["api"].request(
        "POST",
        "/endpoints",
        _enrolment(lab, "dead", fleet["private_key"], host_key=pinned, tags=["dead-lab"]),
    )
    assert dead["connectivity"]["ok"] is False
    assert dead["connectivity"]["code"] == "unreachable" and not dead["online"]
    runs = _run(
        fleet["api"],
        {
            "action": "log.tail",
            "params": {"path": "/etc/hostname"},
            "endpoint_ids": [dead["id"], fleet["enrolled"]["s3"]["id"]],
        },
    )
    states = {r["endpoint_id"]: (r["state"], (r["result"] or {}).get("error")) for r in runs}
    assert states[fleet["enrolled"]["s3"]["id"]] == ("succeeded", None)
    assert states[dead["id"]][0] == "failed"
    assert states[dead["id"]][1]["code"] == "unreachable"


def test_health_checks_run_on_ssh_hosts_and_feed_the_loop(fleet: dict[str, Any]) -> None:
    """The controller measures an agentless endpoint's checks itself, with the agents'
    evaluators; results, states and the loop's tickets are the same as an agent's."""
    api: LabApi = fleet["api"]
    endpoint_id = fleet["enrolled"]["s3"]["id"]
    # The lab's hosts share one process table: sshd runs "on" every one of them.
    checks = {
        expected: api.request(
            "POST",
            "/checks",
            {
                "name": f"ssh-lab {name}",
                "check": "process.absent",
                "params": {"name": name},
                "endpoint_ids": [endpoint_id],
                "interval_s": 1,
            },
        )["id"]
        for expected, name in (("fail", "sshd"), ("ok", "no-such-process-here"))
    }
    try:
        for expected, check_id in checks.items():
            path = f"/checks/{check_id}/results?endpoint_id={endpoint_id}"
            deadline = time.monotonic() + 60
            while not (results := api.request("GET", path)["items"]):
                assert time.monotonic() < deadline, f"no result for the {expected} check"
                time.sleep(0.5)
            assert results[0]["status"] == expected, results[0]
            assert results[0]["evidence"]["action"] == "process.list"
        deadline = time.monotonic() + 60
        while not (
            opened := [
                t
                for t in api.request("GET", f"/tickets?endpoint_id={endpoint_id}")["items"]
                if t["channel"] == "monitoring"
            ]
        ):
            assert time.monotonic() < deadline, "the failing check opened no ticket"
            time.sleep(0.5)
        assert "ssh-lab sshd" in opened[0]["title"]
    finally:
        for check_id in checks.values():
            api.request("DELETE", f"/checks/{check_id}")
