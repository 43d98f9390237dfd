"""The backbone through real processes: controller, agents, enrolment, inventory, presence.

Runs once on SQLite and once on PostgreSQL (one controller per backend).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from processes import ADMIN_TOKEN, AgentProcess, ControllerProcess, wait_for
from sql import query

from protos.deskside.v1 import SERVER_NAME


@pytest.fixture(scope="module")
def agent(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AgentProcess, str]]:
    with controller.client() as client:
        site = client.post("/sites", json={"name": "HQ"}).json()
    token = controller.enrollment_token(site_id=site["id"], tags=["lab", "desk"])
    process = AgentProcess(tmp_path_factory.mktemp("agents") / "main")
    endpoint_id = process.enroll(controller, token)
    process.start()
    wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "agent online")
    wait_for(lambda: _inventory(controller, endpoint_id), 30, "first inventory")
    yield process, endpoint_id
    assert process.stop() == 0, "the agent did not exit cleanly on SIGTERM"
    assert "stopped" in process.log()


def _inventory(controller: ControllerProcess, endpoint_id: str) -> dict[str, Any] | None:
    with controller.client() as client:
        response = client.get(f"/endpoints/{endpoint_id}/inventory")
    return dict(response.json()) if response.status_code == 200 else None


def _history(controller: ControllerProcess, endpoint_id: str) -> list[dict[str, Any]]:
    with controller.client() as client:
        response = client.get(f"/endpoints/{endpoint_id}/inventory/history", params={"limit": 500})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_health_is_open_and_everything_else_needs_a_token(controller: ControllerProcess) -> None:
    with controller.client(token=None) as anonymous:
        health = anonymous.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert anonymous.get("/endpoints").status_code == 401
    with controller.client(token="dsk_not_a_real_token") as stranger:
        denied = stranger.get("/endpoints")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"] == "Bearer"


def test_enrolled_agent_is_listed_online_with_site_and_tags(
    controller: ControllerProcess, agent: tuple[AgentProcess, str]
) -> None:
    _, endpoint_id = agent
    endpoint = controller.endpoint(endpoint_id)
    assert endpoint["hostname"] == socket.gethostname()
    assert endpoint["site"] == "HQ"
    assert endpoint["tags"] == ["desk", "lab"]
    assert endpoint["online"] is True
    assert endpoint["os_family"] == "linux"
    assert endpoint["agent_version"]
    with controller.client() as client:
        listed = client.get("/endpoints").json()
    assert endpoint_id in [e["id"] for e in listed["items"]]


def test_inventory_matches_this_host(
    controller: ControllerProcess, agent: tuple[AgentProcess, str]
) -> None:
    _, endpoint_id = agent
    inventory = wait_for(lambda: _inventory(controller, endpoint_id), 30, "first inventory")
    sections = inventory["sections"]
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    assert sections["memory"]["total"] == int(meminfo["MemTotal"].split()[0]) * 1024
    assert sections["cpu"]["logical_cores"] == os.cpu_count()
    assert sections["os"]["hostname"] == socket.gethostname()
    mounts = {line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()}
    reported = {d["mountpoint"] for d in sections["disks"]["mounts"]}
    assert "/" in reported
    assert reported <= mounts
    packages = {p["name"] for p in sections["software"]["packages"]}
    assert "bash" in packages
    assert sections["processes"]["count"] > 0


def test_history_starts_full_then_carries_only_changed_sections(
    controller: ControllerProcess, agent: tuple[AgentProcess, str]
) -> None:
    _, endpoint_id = agent
    history = wait_for(
        lambda: (h := _history(controller, endpoint_id)) and len(h) >= 3 and h, 30, "deltas"
    )
    oldest = history[-1]
    assert oldest["full"] is True
    assert "software" in oldest["changed_sections"]
    deltas = [h for h in history if not h["full"]]
    assert deltas, history
    # The package list does not change while the test runs, so no delta carries it.
    assert all("software" not in d["changed_sections"] for d in deltas)
    seqs = [h["seq"] for h in history]
    assert len(seqs) == len(set(seqs)), "an inventory message was stored twice"


def test_endpoint_filters_and_paging(
    controller: ControllerProcess, agent: tuple[AgentProcess, str], tmp_path: Path
) -> None:
    _, online_id = agent
    # A second endpoint that enrols but never runs: offline, no site, another tag.
    idle = AgentProcess(tmp_path / "idle")
    idle_id = idle.enroll(controller, controller.enrollment_token(tags=["spare"]))
    with controller.client() as client:

        def ids(**params: Any) -> set[str]:
            response = client.get("/endpoints", params=params)
            assert response.status_code == 200, response.text
            return {e["id"] for e in response.json()["items"]}

        assert online_id in ids(site="HQ") and idle_id not in ids(site="HQ")
        assert ids(tag="spare") == {idle_id}
        assert online_id in ids(online="true") and idle_id not in ids(online="true")
        assert idle_id in ids(online="false") and online_id not in ids(online="false")
        assert online_id in ids(os="linux")
        assert online_id not in ids(os="windows")
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
            page = client.get("/endpoints", params=params).json()
            seen += [e["id"] for e in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) >= 2
        assert {online_id, idle_id} <= set(seen)
        bad = client.get("/endpoints", params={"cursor": "garbage!"})
        assert bad.status_code == 422
        assert "cursor" in bad.text


def test_killed_agent_goes_offline_and_comes_back_without_duplicates(
    controller: ControllerProcess, agent: tuple[AgentProcess, str]
) -> None:
    process, endpoint_id = agent
    process.stop(signal.SIGKILL)
    # Heartbeat interval is 1 s here: offline within that window (plus polling slack).
    wait_for(lambda: not controller.endpoint(endpoint_id)["online"], 10, "offline after kill")
    before = len(_history(controller, endpoint_id))
    process.start()
    wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "online after restart")

    def since_restart() -> list[dict[str, Any]]:
        history = _history(controller, endpoint_id)  # newest first
        return history[: len(history) - before]

    # A restarted agent starts with a full snapshot. Deltas it spooled before the kill may
    # arrive first, so wait for the snapshot rather than for any new entry.
    wait_for(lambda: any(h["full"] for h in since_restart()), 30, "a full snapshot after restart")
    seqs = [h["seq"] for h in _history(controller, endpoint_id)]
    assert len(seqs) == len(set(seqs))


def test_spool_survives_a_controller_restart(
    controller: ControllerProcess, agent: tuple[AgentProcess, str], database: str
) -> None:
    process, endpoint_id = agent
    wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "online")
    controller.stop()
    down_at = time.time()
    # Inventory is collected every 2 s; these snapshots can only go to the spool.
    wait_for(
        lambda: '"last_seq"' in (s := process.command("status").stdout) and _spooled(s) >= 2,
        30,
        "spooled messages",
    )
    controller.restart()
    wait_for(
        lambda: controller.endpoint(endpoint_id)["online"],
        30,
        "online after controller restart",
    )
    wait_for(lambda: _spooled(process.command("status").stdout) == 0, 30, "spool drained")
    history = _history(controller, endpoint_id)
    collected_while_down = [
        h
        for h in history
        if _epoch(h["collected_at"]) > down_at
        and _epoch(h["received_at"]) - _epoch(h["collected_at"]) > 0.5
    ]
    assert collected_while_down, "nothing collected while the controller was down was delivered"
    seqs = [h["seq"] for h in history]
    assert len(seqs) == len(set(seqs))
    rows = query(
        database, "SELECT seq, COUNT(*) FROM inventory_changes GROUP BY seq HAVING COUNT(*) > 1"
    )
    assert rows == []


def _spooled(status_json: str) -> int:
    import json

    spool = json.loads(status_json)["spool"]
    return int(spool["last_seq"]) - int(spool["last_acked"])


def _epoch(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_analyst_cli_lists_and_shows_endpoints(
    controller: ControllerProcess, agent: tuple[AgentProcess, str]
) -> None:
    import json
    import subprocess

    from processes import BIN

    _, endpoint_id = agent
    env = {**os.environ, "DESKSIDE_URL": controller.url, "DESKSIDE_TOKEN": ADMIN_TOKEN}

    def deskside(*args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "deskside"), *args],
            env={**env, **overrides},
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = deskside("endpoints", "ls", "--json", "--tag", "lab")
    assert listed.returncode == 0, listed.stderr
    assert [e["id"] for e in json.loads(listed.stdout)] == [endpoint_id]
    table = deskside("endpoints", "ls")
    assert table.returncode == 0 and socket.gethostname() in table.stdout
    shown = deskside("endpoints", "show", endpoint_id, "--json")
    assert json.loads(shown.stdout)["site"] == "HQ"
    inventory = deskside("endpoints", "inventory", endpoint_id, "--section", "memory", "--json")
    assert list(json.loads(inventory.stdout)["sections"]) == ["memory"]
    readable = deskside("endpoints", "inventory", endpoint_id, "--section", "memory")
    assert readable.returncode == 0 and '"memory"' in readable.stdout
    assert deskside("endpoints", "show", "no-such-endpoint").returncode == 3
    assert deskside("endpoints", "ls", DESKSIDE_TOKEN="wrong").returncode == 1
    assert deskside("endpoints", "ls", DESKSIDE_TOKEN="").returncode == 2


def test_grpc_health_service_answers_on_the_enrolment_listener(
    controller: ControllerProcess,
) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    ca_pem = (controller.data_dir / "pki" / "ca.pem").read_bytes()
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    options = [("grpc.ssl_target_name_override", SERVER_NAME)]
    with grpc.secure_channel(controller.info["enroll"], credentials, options=options) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_admin_token_from_bootstrap_setting(controller: ControllerProcess) -> None:
    with controller.client(token=ADMIN_TOKEN) as client:
        assert client.get("/sites").status_code == 200
