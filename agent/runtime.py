"""The agent at work: collect inventory on schedule, spool it, hold one stream to the controller."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

import grpc

from agent.backoff import Backoff
from agent.connection import Intervals, Refused, Session, open_channel
from agent.inventory_feed import InventoryFeed
from agent.policy import Policy
from agent.runs.journal import Journal
from agent.settings import AgentSettings
from agent.spool import Spool
from agent.state import SPOOL, Credentials, Identity
from protos.deskside.v1 import agent_pb2

if TYPE_CHECKING:
    from agent.checks.runner import CheckRunner
    from agent.runs.executor import Executor

log = logging.getLogger(__name__)
# A connection that lasted this long was healthy: start backing off from scratch.
HEALTHY_AFTER_S = 10.0
# Live run output waiting for the stream (chunks of at most 8 KiB); past this the oldest
# is dropped: it is not durable, and the run's result carries its output anyway.
LIVE_OUTPUT_MAX = 64


class Collector(Protocol):
    def snapshot(self) -> dict[str, Any]: ...


class AgentRuntime:
    def __init__(
        self,
        settings: AgentSettings,
        identity: Identity,
        credentials: Credentials,
        collector: Collector,
        policy: Policy,
    ) -> None:
        self._settings = settings
        self._identity = identity
        self._credentials = credentials
        self._collector = collector
        self._policy = policy
        self._journal = Journal(settings.state_dir / SPOOL)
        # Loaded with the first run: the catalogue brings pydantic, which an idle agent
        # has no use for (docs/PERFORMANCE.md).
        self._runs: Executor | None = None
        # Health checks: started only once there are some (stored or received).
        self._checks: CheckRunner | None = None
        self._checks_task: asyncio.Task[None] | None = None
        self.spool = Spool(settings.state_dir / SPOOL, settings.spool_max_bytes)
        self._feed = InventoryFeed()
        self._intervals = Intervals()
        self._spooled = asyncio.Event()  # set when there is something to send
        self._live: deque[agent_pb2.RunOutput] = deque(maxlen=LIVE_OUTPUT_MAX)
        self._collect_now = asyncio.Event()
        # One collector thread: the default pool would start several, each with its own stack.
        self._collector_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collector")

    def _runs_ready(self) -> Executor:
        if self._runs is None:
            from agent.runs.executor import Executor

            self._runs = Executor(
                self._journal, self._policy, self._report_run, send_output=self._send_output
            )
        return self._runs

    def _spool(self, durable: agent_pb2.Durable) -> int:
        """Write a durable message to disk and wake the sender; returns its sequence."""
        seq = self.spool.append(durable.SerializeToString())
        self._spooled.set()
        return seq

    def _report_run(self, update: agent_pb2.RunUpdate) -> None:
        self._spool(agent_pb2.Durable(run_update=update))

    def _report_check(self, result: agent_pb2.CheckResultMessage) -> None:
        self._spool(agent_pb2.Durable(check_result=result))

    def _checks_ready(self) -> CheckRunner:
        if self._checks is None:
            from agent.checks.runner import CheckRunner

            self._checks = CheckRunner(
                self._settings.state_dir, self._runs_ready, self._report_check
            )
            self._checks_task = asyncio.create_task(self._checks.scheduler.run())
        return self._checks

    def _checks_received(self, message: agent_pb2.CheckSet) -> None:
        if self._checks is None and not message.checks:
            return  # nothing stored (or a runner would exist), nothing to run
        self._checks_ready().received(message)

    def _start_stored_checks(self) -> None:
        from agent.checks import store

        stored = store.load(self._settings.state_dir)
        if stored:
            self._checks_ready().scheduler.replace(stored)

    def _send_output(self, output: agent_pb2.RunOutput) -> None:
        self._live.append(output)
        self._spooled.set()

    def _run_requested(self, request: agent_pb2.RunRequest) -> None:
        self._runs_ready().submit(request)

    def _cancel_requested(self, run_id: str) -> None:
        if self._runs is not None:
            self._runs.cancel(run_id)

    async def run(self, stop: asyncio.Event) -> None:
        if self._journal.unfinished():
            self._runs_ready().report_interrupted()
        self._start_stored_checks()
        tasks = [
            asyncio.create_task(self._inventory_loop()),
            asyncio.create_task(self._connection_loop()),
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            if self._checks is not None and self._checks_task is not None:
                self._checks_task.cancel()
                await self._checks.scheduler.close()
                await asyncio.gather(self._checks_task, return_exceptions=True)
            if self._runs is not None:
                self._runs.close()
                await asyncio.sleep(0)  # let cancelled runs record that they were interrupted
            await asyncio.gather(*tasks, return_exceptions=True)
            self.spool.close()
            self._journal.close()
            self._collector_pool.shutdown(wait=False, cancel_futures=True)

    def _want_full(self) -> None:
        self._feed.want_full()
        self._collect_now.set()

    async def _inventory_loop(self) -> None:
        while True:
            self._collect_now.clear()
            try:
                snapshot = await asyncio.get_running_loop().run_in_executor(
                    self._collector_pool, self._collector.snapshot
                )
            except Exception:  # a probe bug must not stop the agent
                log.exception("inventory collection failed")
            else:
                durable = self._feed.message(snapshot)
                if durable is not None:
                    self._feed.spooled(self._spool(durable))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._collect_now.wait(), self._intervals.inventory_s)

    def _welcomed(self, welcome: agent_pb2.Welcome) -> None:
        if welcome.heartbeat_interval_ms:
            self._intervals.heartbeat_s = welcome.heartbeat_interval_ms / 1000
        if welcome.inventory_interval_ms:
            inventory_s = welcome.inventory_interval_ms / 1000
            # A shorter interval from the controller applies now, not after the old one ends.
            if inventory_s < self._intervals.inventory_s:
                self._collect_now.set()
            self._intervals.inventory_s = inventory_s

    async def _connection_loop(self) -> None:
        backoff = Backoff(max_s=self._settings.max_backoff_s)
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            channel = open_channel(self._identity, self._credentials, self._intervals.heartbeat_s)
            session = Session(
                channel,
                self.spool,
                self._spooled,
                self._live,
                self._intervals,
                on_welcome=self._welcomed,
                on_full_wanted=self._want_full,
                inventory_base_seq=lambda: self._feed.base_seq,
                on_run_request=self._run_requested,
                on_run_cancel=self._cancel_requested,
                policy_json=self._policy.as_json(),
                on_checks=self._checks_received,
            )
            try:
                await session.run()
                log.warning("the controller closed the stream")
            except Refused as exc:
                log.error("the controller refused this agent: %s", exc)
            except (grpc.aio.AioRpcError, ConnectionError, TimeoutError) as exc:
                detail = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
                log.warning("connection to %s lost: %s", self._identity.controller, detail)
            finally:
                await channel.close(grace=None)
            if loop.time() - started > HEALTHY_AFTER_S:
                backoff.reset()
            delay = backoff.next_delay()
            log.info("reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)
