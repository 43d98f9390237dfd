"""time.check over the posix (ssh) actions, run for real through LocalShell: without a
server the endpoint's clock is compared with the controller's, in the agent's data shape."""

from __future__ import annotations

from local_shell import local_context
from sntp_server import SntpServer

from agent.actions import IMPLEMENTATIONS
from agent.actions.context import ActionContext
from catalogue.actions import TimeParams
from controller.transports.posix import ACTIONS


def test_the_same_machine_is_on_time_with_the_controller() -> None:
    got = ACTIONS["time.check"](TimeParams(), local_context())
    assert got.ok, got.error
    assert got.data["server"] == "controller"
    assert abs(got.data["offset_s"]) < 0.5 and 0 < got.data["delay_s"] < 5
    assert "the endpoint's clock is" in got.output


def test_its_data_has_the_agents_keys() -> None:
    server = SntpServer(offset=0)
    try:
        theirs = IMPLEMENTATIONS["time.check"](TimeParams(server=server.address), ActionContext())
    finally:
        server.close()
    ours = ACTIONS["time.check"](TimeParams(), local_context())
    assert theirs.ok and ours.ok
    assert set(ours.data) == set(theirs.data)


def test_an_ntp_server_is_left_to_the_agent() -> None:
    shell = local_context()
    got = ACTIONS["time.check"](TimeParams(server="ntp.example"), shell)
    assert got.error is not None and got.error.code == "not_supported"
    assert not shell.shell.commands  # type: ignore[attr-defined]
