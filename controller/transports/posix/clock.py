"""time.check on the endpoint, against the controller's clock, in the agent's data shape.

With no server the catalogue means "the controller's clock": the endpoint prints its time
(`date +%s.%N`) and the controller takes the middle of the timed round trip as the moment
it was read, so the error is at most half the round trip. Of a few readings the one with
the shortest round trip is kept, as NTP clients do. delay_s is that round trip, as the
agent's delay_s is the NTP exchange's. NTP-only fields (stratum, leap, version,
reference_id) are null: the controller is no NTP server.

Asking an NTP server from the endpoint needs a client there that reports its offset
without stepping the clock; that is left to the agent, so a given server is not_supported.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from catalogue import ActionResult
from catalogue.probes.x509 import stamp
from controller.transports.base import RemoteContext
from controller.transports.posix.common import Refused, said

READINGS = 3
CONTROLLER = "controller"


def _reading(ctx: RemoteContext) -> tuple[float, float, float]:
    """The endpoint's time, the controller's at the middle of the round trip, the trip."""
    sent, started = time.time(), time.perf_counter()
    done = ctx.run(["date", "+%s.%N"], timeout=15)
    trip = time.perf_counter() - started
    seconds, _, fraction = done.stdout.strip().partition(".")
    if done.returncode != 0 or not seconds.isdigit():
        raise Refused("failed", f"cannot read the endpoint's clock: {said(done)}")
    # BSD date (macOS) has no %N and prints it as "N": whole seconds only there.
    endpoint = float(f"{seconds}.{fraction}") if fraction.isdigit() else float(seconds)
    return endpoint, sent + trip / 2, trip


def time_check(params: Any, ctx: RemoteContext) -> ActionResult:
    if params.server is not None:
        return ActionResult.failure(
            "not_supported",
            f"asking {params.server} from the endpoint needs the agent; "
            "without a server, time.check compares with the controller's clock",
        )
    try:
        readings = [_reading(ctx) for _ in range(READINGS)]
    except Refused as exc:
        return exc.result()
    endpoint, controller, trip = min(readings, key=lambda reading: reading[2])
    offset = round(controller - endpoint, 6)  # as NTP: positive when the endpoint is behind
    data = {
        "server": CONTROLLER,
        "address": None,
        "offset_s": offset,
        "delay_s": round(trip, 6),
        "stratum": None,
        "leap": None,
        "version": None,
        "reference_id": None,
        "server_time": stamp(dt.datetime.fromtimestamp(controller, dt.UTC)),
        "local_time": stamp(dt.datetime.fromtimestamp(endpoint, dt.UTC)),
    }
    side = "behind" if offset > 0 else "ahead of"
    output = (
        f"{CONTROLLER}: the endpoint's clock is {abs(offset):.3f} s {side} the controller's "
        f"(round trip {trip * 1000:.1f} ms)"
    )
    return ActionResult(output=output, data=data)


ACTIONS = {"time.check": time_check}
