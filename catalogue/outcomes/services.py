"""service.status / start / stop / restart: the flow and messages every transport shares.

A transport supplies two things: how to read a service's state ({name, state, pid, ...},
state "not_found" when there is none) and how to run a control verb; the checks around
them (not found, dry run, did it end up in the wanted state) live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from catalogue.result import ActionResult, Evidence, bounded


class Context(Protocol):
    @property
    def dry_run(self) -> bool: ...


class Finished(Protocol):
    """A finished command: subprocess.CompletedProcess or a transport's Completed."""

    @property
    def returncode(self) -> int: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...


C = TypeVar("C", bound=Context)
Status = Callable[[str, C], dict[str, Any]]
Control = Callable[[str, str, C], Finished]  # (verb, name, ctx)


def describe(found: dict[str, Any]) -> str:
    pid = f", pid {found['pid']}" if found.get("pid") else ""
    return f"{found['name']}: {found['state']}{pid}"


def status_action(status: Status[C]) -> Callable[[Any, C], ActionResult]:
    def service_status(params: Any, ctx: C) -> ActionResult:
        found = status(params.name, ctx)
        if found["state"] == "not_found":
            return ActionResult.failure("not_found", f"no service named {params.name}", data=found)
        return ActionResult(output=describe(found), data=found)

    return service_status


def control_action(
    verb: str, wanted: str, status: Status[C], control: Control[C]
) -> Callable[[Any, C], ActionResult]:
    def act(params: Any, ctx: C) -> ActionResult:
        before = status(params.name, ctx)
        if before["state"] == "not_found":
            return ActionResult.failure(
                "not_found", f"no service named {params.name}", evidence=Evidence(before=before)
            )
        if ctx.dry_run:
            return ActionResult(
                output=f"would {verb} {describe(before)}", evidence=Evidence(before=before)
            )
        done = control(verb, params.name, ctx)
        after = status(params.name, ctx)
        output = bounded(
            f"{describe(before)} -> {describe(after)}\n{done.stdout}{done.stderr}".strip()
        )
        evidence = Evidence(before=before, after=after)
        if done.returncode != 0:
            message = f"{verb} exited with {done.returncode}"
            return ActionResult.failure("command_failed", message, output=output, evidence=evidence)
        if after["state"] != wanted:
            message = f"{params.name} is {after['state']} after {verb}"
            return ActionResult.failure("not_" + wanted, message, output=output, evidence=evidence)
        changed = verb == "restart" or before["state"] != after["state"]
        return ActionResult(changed=changed, output=output, evidence=evidence)

    return act


def actions(status: Status[C], control: Control[C]) -> dict[str, Callable[[Any, C], ActionResult]]:
    """The four service.* actions for one way of reading and controlling services."""
    return {
        "service.status": status_action(status),
        "service.start": control_action("start", "running", status, control),
        "service.stop": control_action("stop", "stopped", status, control),
        "service.restart": control_action("restart", "running", status, control),
    }
