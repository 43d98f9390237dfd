"""Three agents in three network namespaces reach a controller in a fourth, over a bridge.

Cutting a host's link (no FIN, no RST: a pulled cable) must mark its endpoint offline;
restoring it must bring the endpoint back with what it collected meanwhile, exactly once.
The controller runs on SQLite here: PostgreSQL listens on the root namespace's loopback,
which lab hosts cannot reach by design.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from databases import fresh_database, require_or_skip
from lab_api import LabApi
from netns import NetnsLab, netns_available
from processes import AgentProcess, ControllerProcess, wait_for
from sql import query

AGENTS = ["a1", "a2", "a3"]


@pytest.fixture(scope="module")
def lab() -> Iterator[NetnsLab]:
    require_or_skip(netns_available())
    with NetnsLab("dsmh") as lab:
        lab.add_hosts(["ctl", *AGENTS])
        yield lab


@pytest.fixture(scope="module")
def fleet(lab: NetnsLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("multihost")
    ctl = lab["ctl"]
    with fresh_database("sqlite", base) as database:
        controller = ControllerProcess(
            base / "controller",
            database,
            listen_host=ctl.address,
            heartbeat_s=1.0,
            inventory_s=1.0,
            launcher=["ip", "netns", "exec", ctl.netns],
        ).start()
        api = LabApi(ctl, controller.url)
        agents: dict[str, tuple[AgentProcess, str]] = {}
        try:
            for name in AGENTS:
                host = lab[name]
                token = api.request("POST", "/enrollment-tokens", {"tags": [name]})
                agent = AgentProcess(base / name, launcher=["ip", "netns", "exec", host.netns])
                agents[name] = (agent, agent.enroll(controller, token))
                agent.start()
            for _, endpoint_id in agents.values():
                wait_for(lambda e=endpoint_id: api.online(e), 30, f"{endpoint_id} online")
            yield {"api": api, "agents": agents, "database": database, "controller": controller}
        finally:
            for agent, _ in agents.values():
                agent.stop()
            controller.stop()


def _spool(agent: AgentProcess) -> dict[str, int]:
    status = agent.command("status")
    assert status.returncode == 0, status.stderr
    return dict(json.loads(status.stdout)["spool"])


def test_agents_in_other_namespaces_are_online(fleet: dict[str, Any], lab: NetnsLab) -> None:
    api: LabApi = fleet["api"]
    listed = api.request("GET", "/endpoints")["items"]
    assert {e["id"] for e in listed} == {e for _, e in fleet["agents"].values()}
    assert all(e["online"] for e in listed)
    # The lab is closed: the root namespace cannot reach the controller at all.
    probe = subprocess.run(
        ["curl", "-sS", "--max-time", "2", fleet["controller"].url + "/api/v1/health"],
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0


def test_cut_link_goes_offline_and_restored_link_delivers_the_spool_once(
    fleet: dict[str, Any], lab: NetnsLab
) -> None:
    api: LabApi = fleet["api"]
    agent, endpoint_id = fleet["agents"]["a2"]
    others = [e for name, (_, e) in fleet["agents"].items() if name != "a2"]
    host = lab["a2"]
    host.cut()
    try:
        wait_for(lambda: not api.online(endpoint_id), 15, "a2 offline after the cut")
        assert all(api.online(e) for e in others), "cutting a2 affected other hosts"
        # Inventory is collected every second: while cut, it can only pile up on disk.
        wait_for(lambda: (s := _spool(agent))["last_seq"] - s["last_acked"] >= 3, 30, "spooled")
        spooled_upto = _spool(agent)["last_seq"]
    finally:
        host.restore()
    wait_for(lambda: api.online(endpoint_id), 30, "a2 online after restore")
    wait_for(lambda: _spool(agent)["last_acked"] >= spooled_upto, 30, "spool delivered")
    rows = query(
        fleet["database"],
        "SELECT seq FROM inventory_changes WHERE endpoint_id = $1 ORDER BY seq",
        endpoint_id,
    )
    seqs = [r[0] for r in rows]
    assert len(seqs) == len(set(seqs)), "a message was stored twice"
    # Nothing lost either: every sequence number up to the spooled ones is stored.
    assert set(range(1, spooled_upto + 1)) <= set(seqs)
    assert "connection to" in agent.log() and "lost" in agent.log()


def test_every_host_reports_its_own_inventory(fleet: dict[str, Any], lab: NetnsLab) -> None:
    api: LabApi = fleet["api"]
    for name, (_, endpoint_id) in fleet["agents"].items():
        inventory = api.request("GET", f"/endpoints/{endpoint_id}/inventory")
        interfaces = inventory["sections"]["network"]["interfaces"]
        addresses = {a["address"] for i in interfaces for a in i["addresses"]}
        # Each agent sees its own namespace: its lab address, and not the others'.
        assert lab[name].address in addresses
        assert not {lab[o].address for o in AGENTS if o != name} & addresses
