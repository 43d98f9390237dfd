"""What storing health-check results costs the controller: rows per second and CPU.

The issue's figure is 10,000 endpoints x 10 checks a minute: 100,000 results a minute, about
1,667 a second. Runs a real controller (SQLite in a temp dir, or --database-url /
--postgresql), enrols --endpoints endpoints for real through its enrolment service (the
agent's own enrolment code, in this process: a key, a CSR, the Enroll RPC), creates
--checks checks for them over the API, then opens one real mTLS gRPC stream per endpoint
from this one process (grpc.aio, the agent's protocol: hello, welcome, then Durable
check_result messages with increasing seq) and measures two modes:

* paced: --rate results a second in all, spread evenly over the streams, for --duration s
  after --warmup s. Each stream sends on its schedule whatever the acks do.
* max: as fast as the acks allow, --window unacknowledged results per stream.

For each: results acknowledged per second in the timed window, ack lag (send -> ack) p50/p99,
the controller's CPU (psutil on its pid) per 1,000 results and as a share of one core, and
the load generator's (this process) the same way. Afterwards the check_results rows are
counted: every acknowledged result is stored once. The controller's CPU with the streams
connected and idle (heartbeats only) is the reference row; no peer is installable here with a
like figure (Salt's returners and event bus move job returns, not judged health results with
a state per endpoint).

    python bench/check_ingest.py [--endpoints 50] [--rate 1667] [--duration 30] [--json out.json]

A benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import platform
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from processes import ADMIN_TOKEN, ControllerProcess  # noqa: E402
from report import render  # noqa: E402

from agent.enrollment import Enrolled, enroll  # noqa: E402
from protos.deskside.v1 import SERVER_NAME, agent_pb2, agent_pb2_grpc  # noqa: E402

GOAL_RATE = 10_000 * 10 / 60  # 10,000 endpoints x 10 checks a minute
TAG = "ingest"
ENROLL_WORKERS = 8
HEARTBEAT_S = 2.0
IDLE_S = 10.0
DRAIN_S = 30.0
# A disk.free result as the agent sends it: the value, a message, bounded evidence.
EVIDENCE = json.dumps(
    {
        "action": "disk.usage",
        "params": {"path": "/", "depth": 1},
        "output": "/ 51.2 GiB free of 120.0 GiB (42.7 %)\n",
        "data": {"free_bytes": 54975581388, "total_bytes": 128849018880, "free_percent": 42.7},
    }
).encode()


def cuts(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": values[0] if values else 0.0, "p99": values[0] if values else 0.0}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": q[49], "p99": q[98], "max": max(values)}


def cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


@dataclass
class Stream:
    """One endpoint's stream: its credentials, the checks it got, what it sent and heard."""

    who: Enrolled
    seq: int = 0
    checks: list[tuple[int, int]] = field(default_factory=list)  # (id, version)
    sent_at: dict[int, float] = field(default_factory=dict)
    lags: list[tuple[float, float]] = field(default_factory=list)  # (ack time, lag s)
    acked: int = 0
    window: asyncio.Semaphore | None = None
    call: Any = None
    set_seen: asyncio.Event = field(default_factory=asyncio.Event)
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)  # one write at a time

    async def write(self, message: agent_pb2.AgentMessage) -> None:
        async with self.writing:
            await self.call.write(message)

    def result(self) -> agent_pb2.AgentMessage:
        self.seq += 1
        check_id, version = self.checks[self.seq % len(self.checks)]
        # One result in 100 warns: the state moves (ok -> warn -> ok) now and then.
        status = "warn" if self.seq % 100 == 0 else "ok"
        message = agent_pb2.CheckResultMessage(
            check_id=check_id,
            version=version,
            status=status,
            value_json=b'{"free_percent": 42.7, "free_bytes": 54975581388}',
            message="42.7 % free on /",
            evidence_json=EVIDENCE,
            at_ms=int(time.time() * 1000),
        )
        self.sent_at[self.seq] = time.perf_counter()
        return agent_pb2.AgentMessage(durable=agent_pb2.Durable(seq=self.seq, check_result=message))


class Load:
    """N streams from this process, the agent's protocol over mTLS."""

    def __init__(self, address: str, enrolled: list[Enrolled]) -> None:
        self.address = address
        self.streams = [Stream(e) for e in enrolled]
        self.channels: list[grpc.aio.Channel] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        await asyncio.gather(*(self._open(s) for s in self.streams))

    async def _open(self, stream: Stream) -> None:
        creds = grpc.ssl_channel_credentials(
            root_certificates=stream.who.ca_pem,
            private_key=stream.who.key_pem,
            certificate_chain=stream.who.cert_pem,
        )
        channel = grpc.aio.secure_channel(
            self.address, creds, options=[("grpc.ssl_target_name_override", SERVER_NAME)]
        )
        self.channels.append(channel)
        call = agent_pb2_grpc.AgentGatewayStub(channel).Connect()  # type: ignore[call-arg]
        hello = agent_pb2.Hello(agent_version="bench", hostname="bench")
        await call.write(agent_pb2.AgentMessage(hello=hello))
        first = await call.read()
        assert first.HasField("welcome"), first
        stream.seq = first.welcome.last_seq
        stream.call = call
        self.tasks.append(asyncio.create_task(self._read(stream)))
        self.tasks.append(asyncio.create_task(self._beat(stream)))
        await asyncio.wait_for(stream.set_seen.wait(), 30)

    async def _read(self, stream: Stream) -> None:
        while isinstance(message := await stream.call.read(), agent_pb2.ControllerMessage):
            if message.HasField("ack"):
                now = time.perf_counter()
                sent = stream.sent_at.pop(message.ack.seq, None)
                if sent is not None:
                    stream.lags.append((now, now - sent))
                    stream.acked += 1
                    if stream.window is not None:
                        stream.window.release()
            elif message.HasField("checks"):
                stream.checks = [(c.id, c.version) for c in message.checks.checks]
                if stream.checks:
                    stream.set_seen.set()

    async def _beat(self, stream: Stream) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            beat = agent_pb2.Heartbeat(sent_at_ms=int(time.time() * 1000))
            await stream.write(agent_pb2.AgentMessage(heartbeat=beat))

    async def paced(self, rate: float, until: float) -> None:
        """Every stream sends rate/N a second on its own schedule, staggered. A stream held
        up by flow control (the controller not reading) stops at `until` all the same: what
        it did not send by then is not sent."""
        period = len(self.streams) / rate

        async def one(index: int, stream: Stream) -> None:
            due = time.perf_counter() + period * index / len(self.streams)
            while due < until and time.perf_counter() < until:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await stream.write(stream.result())
                due += period

        await asyncio.gather(*(one(i, s) for i, s in enumerate(self.streams)))

    async def flat_out(self, window: int, until: float) -> None:
        async def one(stream: Stream) -> None:
            stream.window = asyncio.Semaphore(window)
            while time.perf_counter() < until:
                await stream.window.acquire()
                await stream.write(stream.result())
            stream.window = None

        await asyncio.gather(*(one(s) for s in self.streams))

    async def drained(self, within_s: float) -> int:
        """Wait for the outstanding acks (polled); how many never came."""
        for _ in range(int(within_s / 0.05)):
            if not any(s.sent_at for s in self.streams):
                break
            await asyncio.sleep(0.05)
        return sum(len(s.sent_at) for s in self.streams)

    def acked(self) -> int:
        return sum(s.acked for s in self.streams)

    def lags_between(self, start: float, end: float) -> list[float]:
        return [lag * 1000 for s in self.streams for at, lag in s.lags if start <= at < end]

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for stream in self.streams:
            if stream.call is not None:
                stream.call.cancel()
        for channel in self.channels:
            await channel.close()


def count_rows(database_url: str) -> int:
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as db:
            return int(db.execute("SELECT count(*) FROM check_results").fetchone()[0])
    import asyncpg

    async def count() -> int:
        connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            return int(await connection.fetchval("SELECT count(*) FROM check_results"))
        finally:
            await connection.close()

    return asyncio.run(count())


def enrol(controller: ControllerProcess, count: int) -> tuple[list[Enrolled], float]:
    started = time.perf_counter()
    grpc_address = controller.info["grpc"]
    host = grpc_address.rsplit(":", 1)[0]
    enroll_address = f"{host}:{controller.info['enroll'].rsplit(':', 1)[1]}"

    def one(_: int) -> Enrolled:
        token = controller.enrollment_token(tags=[TAG])
        return enroll(grpc_address, token["token"], token["ca_hash"], enroll_address)

    with ThreadPoolExecutor(ENROLL_WORKERS) as pool:
        enrolled = list(pool.map(one, range(count)))
    return enrolled, time.perf_counter() - started


async def window(
    load: Load,
    controller: psutil.Process,
    seconds: float,
    run: Any,
) -> dict[str, Any]:
    """Run `run(until)` for seconds and measure what was acknowledged inside the window."""
    me = psutil.Process()
    acked_before, start = load.acked(), time.perf_counter()
    cpu_before = (cpu_s(controller), cpu_s(me))
    await run(start + seconds)
    end = time.perf_counter()
    acked = load.acked() - acked_before
    controller_cpu, my_cpu = cpu_s(controller) - cpu_before[0], cpu_s(me) - cpu_before[1]
    lags = load.lags_between(start, end)
    return {
        "seconds": end - start,
        "acked": acked,
        "rate": acked / (end - start),
        "lag_ms": cuts(lags),
        "controller_cpu_s": controller_cpu,
        "load_cpu_s": my_cpu,
        "controller_cpu_per_1000": controller_cpu / max(acked, 1) * 1000,
        "load_cpu_per_1000": my_cpu / max(acked, 1) * 1000,
        "controller_cores": controller_cpu / (end - start),
        "load_cores": my_cpu / (end - start),
    }


async def measure(
    controller: ControllerProcess, enrolled: list[Enrolled], args: argparse.Namespace
) -> dict[str, Any]:
    assert controller.process is not None
    pid = psutil.Process(controller.process.pid)
    load = Load(controller.info["grpc"], enrolled)
    out: dict[str, Any] = {}
    try:
        await load.open()
        await asyncio.sleep(2)
        print(f"idle: {IDLE_S:g} s with {len(enrolled)} streams connected...", flush=True)
        before, started = cpu_s(pid), time.perf_counter()
        await asyncio.sleep(IDLE_S)
        out["idle_cores"] = (cpu_s(pid) - before) / (time.perf_counter() - started)
        rate = args.rate
        print(f"paced: {args.warmup:g} s warm-up + {args.duration:g} s at {rate:g}/s", flush=True)
        await load.paced(rate, time.perf_counter() + args.warmup)
        out["paced"] = await window(load, pid, args.duration, lambda until: load.paced(rate, until))
        out["paced"]["unacked_after_drain"] = await load.drained(DRAIN_S)
        out["paced"]["target"] = rate
        if args.max_duration > 0:
            print(f"max: {args.max_duration:g} s, window {args.window} per stream...", flush=True)
            await load.flat_out(args.window, time.perf_counter() + min(5.0, args.warmup))
            await load.drained(DRAIN_S)
            out["max"] = await window(
                load, pid, args.max_duration, lambda until: load.flat_out(args.window, until)
            )
            out["max"]["unacked_after_drain"] = await load.drained(DRAIN_S)
        await asyncio.sleep(1)
        out["acked_total"] = load.acked()
    finally:
        await load.close()
    return out


def table(results: dict[str, Any]) -> str:
    rows = [["figure", "deskside", "goal", "peer", "ratio"]]

    def note(label: str, value: str, goal: str = "") -> None:
        rows.append([label, value, goal, "-", "-"])

    note("controller CPU idle, streams connected (cores)", f"{results['idle_cores']:.3f}")
    paced = results["paced"]
    met = paced["rate"] >= GOAL_RATE * 0.99 and paced["unacked_after_drain"] == 0
    note(
        f"paced: stored/s (target {paced['target']:,.0f}/s)",
        f"{paced['rate']:,.0f}",
        f"sustain {GOAL_RATE:,.0f}/s {'met' if met else 'MISSED'}",
    )
    for name in ("paced", "max"):
        if name not in results:
            continue
        figures = results[name]
        if name == "max":
            note(f"max: stored/s (window {results['window']})", f"{figures['rate']:,.0f}")
        lag = figures["lag_ms"]
        note("  ack lag p50 / p99 (ms)", f"{lag['p50']:,.1f} / {lag['p99']:,.1f}")
        note("  controller CPU s per 1,000 results", f"{figures['controller_cpu_per_1000']:.3f}")
        note("  controller CPU (cores)", f"{figures['controller_cores']:.2f}")
        note("  load generator CPU s per 1,000", f"{figures['load_cpu_per_1000']:.3f}")
        note("  load generator CPU (cores)", f"{figures['load_cores']:.2f}")
        note("  unacknowledged after drain", str(figures["unacked_after_drain"]))
    note(
        "check_results rows / results acked",
        f"{results['rows']:,} / {results['acked_total']:,}",
        "equal " + ("ok" if results["rows"] == results["acked_total"] else "MISSED"),
    )
    return render(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--checks", type=int, default=5, help="checks per endpoint")
    parser.add_argument("--rate", type=float, default=round(GOAL_RATE), help="results/s in all")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--max-duration", type=float, default=20.0, help="0: no max mode")
    parser.add_argument("--window", type=int, default=16, help="unacked results per stream")
    parser.add_argument("--database-url", help="e.g. postgresql://127.0.0.1/fresh_db")
    parser.add_argument("--postgresql", action="store_true", help="a fresh PostgreSQL database")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os_name = platform.freedesktop_os_release().get("PRETTY_NAME", platform.platform())
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{psutil.cpu_count()} cores, {os_name}, Python {platform.python_version()}",
        "endpoints": args.endpoints,
        "window": args.window,
    }
    work = Path(tempfile.mkdtemp(prefix="deskside-ingest-"))
    with contextlib.ExitStack() as stack:
        database_url = args.database_url or f"sqlite:///{work}/deskside.db"
        if args.postgresql:
            from databases import fresh_database

            database_url = stack.enter_context(fresh_database("postgresql", work))
        results["database"] = database_url.split(":", 1)[0]
        controller = ControllerProcess(work / "controller", database_url)
        for name in ("DESKSIDE_HEARTBEAT_INTERVAL_S", "DESKSIDE_INVENTORY_INTERVAL_S"):
            controller.env.pop(name)  # the real defaults, not the tests'
        controller.env["DESKSIDE_LOG_LEVEL"] = "warning"
        try:
            controller.start()
            print(f"enrolling {args.endpoints} endpoints...", flush=True)
            enrolled, took = enrol(controller, args.endpoints)
            results["enrol_s"] = took
            print(f"  {took:.1f} s", flush=True)
            with httpx.Client(
                base_url=controller.url + "/api/v1",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=60,
            ) as client:
                for index in range(args.checks):
                    body = {
                        "name": f"disk {index}",
                        "check": "disk.free",
                        "params": {"path": "/"},
                        "tags": [TAG],
                        "interval_s": 60,
                    }
                    response = client.post("/checks", json=body)
                    assert response.status_code == 201, response.text
            results.update(asyncio.run(measure(controller, enrolled, args)))
            results["rows"] = count_rows(database_url)
        finally:
            with contextlib.suppress(AssertionError, OSError):
                controller.stop()
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{results['date']}  {results['machine']}  {results['database']}")
    print(
        f"{args.endpoints} streams from one process, {args.checks} checks each; enrolment "
        f"{results['enrol_s']:.1f} s; no peer with a like figure (see the docstring)"
    )
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: the controller stopped, temp dir removed", file=sys.stderr)
        sys.exit(130)
