"""Setting the whole demo up, in order: controller, sites, agents (online), people and the
knowledge base, faults, the checks that watch them, tickets."""

from __future__ import annotations

import shutil
from pathlib import Path

from controller.demo import faults
from controller.demo.fleet import DemoAgent, Fleet, FleetError, can_name_hosts, wait_until
from controller.demo.network import DemoNetwork
from controller.demo.seed import AdminApi, Seeded, seed_check, seed_people, seed_sites, seed_tickets

MARKER = ".deskside-demo"
ONLINE_TIMEOUT_S = 90


def prepare_dir(root: Path) -> None:
    """Start from nothing: a previous demo's dir is wiped, any other non-empty dir refused
    (it is not ours to delete)."""
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise FleetError(f"{root} is not empty and not a demo dir; choose another --dir")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("made by `deskside demo`; wiped by the next one\n")


def _site_of(index: int) -> str:
    return "HQ" if index % 2 == 1 else "Branch"


def start_demo(
    root: Path, agents: int, http_port: int, namespaces: bool = True
) -> tuple[Fleet, Seeded]:
    """Everything running and seeded; on failure what was started is stopped again.
    namespaces: put agents in network namespaces where this machine permits it."""
    prepare_dir(root)
    network = DemoNetwork.create() if namespaces else None
    fleet = Fleet(root.resolve(), http_port, network)
    try:
        return fleet, _stage(fleet, agents)
    except BaseException:
        fleet.stop()
        raise


def _stage(fleet: Fleet, count: int) -> Seeded:
    fleet.start_controller()
    seeded = Seeded(url=fleet.url)
    api = AdminApi(fleet.url, fleet.token)
    try:
        seed_sites(api, seeded)
        own_hostnames = can_name_hosts()
        fleet_agents: list[DemoAgent] = []
        for index in range(1, count + 1):
            agent = fleet.new_agent(index, f"demo-pc-{index}", own_hostnames)
            site = _site_of(index)
            fleet.start_agent(agent, ["demo", agent.hostname], seeded.sites[site])
            fleet_agents.append(agent)
            seeded.endpoints.append(
                {
                    "id": agent.endpoint_id,
                    "hostname": agent.hostname,
                    "site": site,
                    "scratch": str(agent.scratch),
                    "own_hostname": own_hostnames,
                    "namespace": agent.launcher[3] if fleet.network else None,
                    "address": f"{fleet.network.prefix}.{index + 1}" if fleet.network else None,
                }
            )

        def all_online() -> bool:
            listed = api.get("/endpoints", {"tag": "demo", "online": True, "limit": 1000})
            return len(listed["items"]) == count

        wait_until(all_online, ONLINE_TIMEOUT_S, f"{count} demo agents online")
        seed_people(api, seeded)
        disk_full = None
        for agent in fleet_agents:
            if agent.index % 3 == 1:
                seeded.faults.append(faults.start_runaway(fleet, agent))
            elif agent.index % 3 == 2:
                disk_full = faults.fill_temp_dir(agent)
                seeded.faults.append(disk_full)
            seed_check(
                api,
                seeded,
                {
                    "name": f"Scratch disk free on {agent.hostname}",
                    "check": "disk.free",
                    "params": {"path": str(agent.scratch)},
                    "endpoint_ids": [agent.endpoint_id],
                    "interval_s": 60,
                },
            )
        for fault in seeded.faults:
            check = faults.check_for(fault)
            if check is not None:
                seed_check(api, seeded, check)
        seed_tickets(api, seeded, disk_full)
    finally:
        api.close()
    return seeded
