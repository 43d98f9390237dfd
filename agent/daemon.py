"""The long-running agent process behind `deskside-agent run`.

It is reached without the CLI framework (see agent.cli.main): Typer loads pydantic to
parse options, and that would be a quarter of the agent's resident memory for nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import signal
import sys

from agent import __version__, policy, state
from agent.settings import AgentSettings, SettingsError

log = logging.getLogger("agent")
_M_ARENA_MAX = -8


def _limit_malloc_arenas() -> None:
    """glibc gives each thread its own heap arena; grpc's few threads need no more than two."""
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    if name:
        libc = ctypes.CDLL(name)
        libc.mallopt(_M_ARENA_MAX, 2)


def run() -> int:
    """Run until SIGTERM or SIGINT; returns the process exit code."""
    try:
        settings = AgentSettings.from_env()
        identity, credentials = state.load(settings.state_dir)
        local_policy = policy.load(settings.state_dir)
    except (SettingsError, policy.PolicyError, state.NotEnrolled) as exc:
        print(f"deskside-agent: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, state.NotEnrolled) else 2
    _limit_malloc_arenas()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from agent.inventory import InventoryCollector
    from agent.runtime import AgentRuntime

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runtime = AgentRuntime(settings, identity, credentials, InventoryCollector(), local_policy)
        log.info(
            "deskside-agent %s for endpoint %s, controller %s",
            __version__,
            identity.endpoint_id,
            identity.controller,
        )
        await runtime.run(stop)
        log.info("stopped")

    asyncio.run(main())
    return 0
