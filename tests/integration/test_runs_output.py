"""Live output through real processes: ping's lines reach an SSE reader while ping runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from processes import ADMIN_TOKEN, AgentProcess, ControllerProcess, wait_for

TERMINAL = {"succeeded", "failed", "cancelled", "expired", "interrupted"}
COUNT = 4  # echoes, one a second: output comes well before the end


@pytest.fixture(scope="module")
def endpoint(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    agent = AgentProcess(tmp_path_factory.mktemp("output") / "agent")
    endpoint_id = agent.enroll(controller, controller.enrollment_token())
    agent.start()
    wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "agent online")
    yield endpoint_id
    agent.stop()


def _events(controller: ControllerProcess, run_id: str) -> list[tuple[str, Any]]:
    """Every server-sent event of a run, in order, up to `end`."""
    url = f"{controller.url}/api/v1/runs/{run_id}/events"
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    events: list[tuple[str, Any]] = []
    event = None
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event is not None:
                events.append((event, json.loads(line.removeprefix("data: "))))
                if event == "end":
                    break
    return events


def _output(events: list[tuple[str, Any]]) -> str:
    """The output events' text, checking that each chunk starts where the last ended."""
    chunks = [data for event, data in events if event == "output"]
    offset = 0
    for chunk in chunks:
        assert chunk["offset"] == offset, chunks
        offset += len(chunk["text"].encode())
    return "".join(chunk["text"] for chunk in chunks)


def test_ping_output_arrives_while_it_runs(controller: ControllerProcess, endpoint: str) -> None:
    body = {
        "endpoint_id": endpoint,
        "action": "net.ping",
        "params": {"host": "127.0.0.1", "count": COUNT, "timeout_s": 2},
    }
    with controller.client() as client:
        created = client.post("/runs", json=body)
    assert created.status_code == 201, created.text
    run_id = created.json()["items"][0]["id"]

    events = _events(controller, run_id)
    kinds = [event for event, _ in events]
    final = next(
        i for i, (event, data) in enumerate(events) if event == "run" and data["state"] in TERMINAL
    )
    assert events[final][1]["state"] == "succeeded", events[final]
    # Ping prints a line a second: sent as it comes, that is several chunks before the end
    # (output sent only when the action returns would be one).
    assert kinds[:final].count("output") >= 2, kinds
    assert kinds[-1] == "end"
    text = _output(events)
    for seq in range(1, COUNT + 1):
        assert f"from 127.0.0.1: icmp_seq={seq} " in text, text
    assert f"{COUNT} packets transmitted" in text
    # The final result carries the same lines.
    assert "icmp_seq=1 " in events[final][1]["result"]["output"]

    # A reader coming after the end gets the buffered output first, then the final state.
    late = _events(controller, run_id)
    assert [event for event, _ in late][-2:] == ["run", "end"]
    assert _output(late) == text
