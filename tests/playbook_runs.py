"""Playing shipped playbooks through the API against a real agent, for the suites that
inject a fault for real and check what the playbook did about it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from processes import AgentProcess, ControllerProcess, wait_for

TEAM = "Desktop Support"


def start_agent(
    controller: ControllerProcess, directory: Path, **env: str
) -> tuple[AgentProcess, str]:
    """An agent enrolled and online, allowed medium risk and paths under directory/work;
    env reaches the agent and the commands its actions run. Also makes sure TEAM exists,
    for the playbooks that escalate to it."""
    agent = AgentProcess(directory / "agent")
    agent.env.update(env)
    endpoint_id = agent.enroll(controller, controller.enrollment_token())
    (directory / "agent" / "policy.toml").write_text(
        f'max_risk = "medium"\nallowed_paths = ["{directory}/work"]\n'
    )
    (directory / "work").mkdir()
    agent.start()
    wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "agent online")
    with controller.client() as client:
        team = client.post("/teams", json={"name": TEAM})
        assert team.status_code in (201, 409), team.text
    return agent, endpoint_id


def open_ticket(controller: ControllerProcess, title: str) -> int:
    with controller.client() as client:
        created = client.post("/tickets", json={"title": title})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def play(
    controller: ControllerProcess,
    endpoint_id: str,
    playbook: str,
    inputs: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """POST /playbook-runs, waiting for the end; the run as the API then shows it."""
    body = {"playbook": playbook, "inputs": inputs, "endpoint_id": endpoint_id, **extra}
    with controller.client() as client:
        client.timeout = 400
        created = client.post("/playbook-runs", params={"wait_s": 300}, json=body)
        assert created.status_code == 201, created.text
        run = created.json()["items"][0]
        assert run["state"] not in ("queued", "running"), run
        again = client.get(f"/playbook-runs/{run['id']}")
        assert again.status_code == 200 and again.json() == run
    return dict(run)


def timeline(controller: ControllerProcess, ticket_id: int) -> list[dict[str, Any]]:
    with controller.client() as client:
        response = client.get(f"/tickets/{ticket_id}/timeline")
    assert response.status_code == 200, response.text
    return list(response.json())


def assert_on_timeline(controller: ControllerProcess, run: dict[str, Any]) -> None:
    """Every step that ran is on the ticket's timeline with its run's evidence, and the
    playbook's start and end are there too."""
    entries = timeline(controller, run["ticket_id"])
    runs = {e["run_id"]: e for e in entries if e["kind"] == "run"}
    for step in run["steps"]:
        if step["run_id"] is None:
            assert step["state"] in ("skipped", "would_run", "would_verify", "evaluated"), step
            continue
        entry = runs[step["run_id"]]
        assert entry["data"]["action"] == step["action"]
        assert entry["data"]["params"] == step["params"]
        assert entry["data"]["evidence"] == step["evidence"]
        assert entry["data"]["state"] == step["state"]
    events = [e for e in entries if e["kind"] == "playbook"]
    assert [e["data"]["event"] for e in events] == ["started", "finished"]
    assert events[1]["body"] == run["summary"] and events[1]["data"]["state"] == run["state"]


def escalation(controller: ControllerProcess, ticket_id: int, team: str = TEAM) -> str:
    """The one escalation on the ticket's timeline (its body), the ticket now with team."""
    with controller.client() as client:
        ticket = client.get(f"/tickets/{ticket_id}").json()
        teams = {t["name"]: t["id"] for t in client.get("/teams").json()["items"]}
    assert ticket["team_id"] == teams[team]
    (entry,) = [e for e in timeline(controller, ticket_id) if e["kind"] == "escalation"]
    return str(entry["body"])
