"""Agentless endpoints without the network: sealed secrets, pinning, and runs claimed once.

The transports here are stand-ins (the real ssh and winrm ones are tested against a real
sshd and the WS-Man emulator); what is real is the database, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from catalogue import ActionResult
from controller.access.actor import Actor
from controller.access.roles import Role
from controller.errors import ConfigError, InvalidInput
from controller.fleet.agentless import AgentlessDraft, enrol_agentless
from controller.runs.dispatch import RunOrder
from controller.runs.updates import Ended
from controller.storage.db import SessionFactory
from controller.storage.models import Endpoint, Run
from controller.transports.base import Target
from controller.transports.credentials import KEY_FILE, Vault
from controller.transports.errors import TransportError, Unreachable
from controller.transports.remote import Remote
from controller.transports.runs import RemoteRuns

ADMIN = Actor(name="ada", role=Role.ADMIN)
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmqkXw9C0QNJwB7Bb8ivTAw5UdKTz1Hq9rUZKMTQvNG"
PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----\n"


class StandIn:
    """A transport that records what it was asked and answers what it is told."""

    kind = "ssh"

    def __init__(self, seen_key: str | None = HOST_KEY) -> None:
        self.seen_key = seen_key
        self.runs: list[tuple[str, str]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def run_action(
        self, target: Target, action: str, params: Any, *, dry_run: bool, timeout_s: float
    ) -> ActionResult:
        self.runs.append((target.endpoint_id, action))
        await self.release.wait()
        return ActionResult(output=f"{action} on {target.address} as {target.username}")

    async def host_key(self, target: Target) -> str:
        if self.seen_key is None:
            raise Unreachable(f"{target.address}:{target.port}: connection refused")
        return self.seen_key

    async def inventory(self, target: Target) -> dict[str, Any]:
        return {"os": {"name": "Debian", "version": "12", "family": "linux", "hostname": "kiosk"}}

    async def aclose(self) -> None:
        return None


def _draft(**changes: Any) -> AgentlessDraft:
    values: dict[str, Any] = {
        "transport": "ssh",
        "hostname": "kiosk-1",
        "address": "10.0.0.5",
        "username": "deskside",
        "private_key": PEM,
    }
    return AgentlessDraft(**{**values, **changes})


def test_secrets_are_sealed_with_a_private_key_file(tmp_path: Path) -> None:
    vault = Vault.open(tmp_path)
    sealed = vault.seal({"password": "hunter2"})
    assert "hunter2" not in sealed
    assert vault.unseal(sealed) == {"password": "hunter2"}
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert Vault.open(tmp_path).unseal(sealed) == {"password": "hunter2"}  # same key file
    with pytest.raises(TransportError, match="cannot be decrypted"):
        Vault.open(tmp_path / "elsewhere").unseal(sealed)
    with pytest.raises(ConfigError, match="credentials_key"):
        Vault.open(tmp_path, "not a key")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"transport": "telnet"}, "transport"),
        ({"hostname": "bad host"}, "hostname"),
        ({"address": "10.0.0.5; rm -rf /"}, "address"),
        ({"username": ""}, "username"),
        ({"password": "x"}, "password"),  # and a private key: one or the other
        ({"private_key": "hunter2"}, "private_key"),
        ({"host_key": "ssh-ed25519 AAAA!!"}, "host_key"),
        ({"host_key": HOST_KEY.replace("ssh-ed25519", "ssh-rsa")}, "host_key"),
        ({"transport": "winrm", "private_key": None, "password": "x", "sudo": True}, "transport"),
        ({"tags": ["ok", "not ok"]}, "tags[1]"),
    ],
)
async def test_bad_enrolments_name_the_field_and_store_nothing(
    sessions: SessionFactory, tmp_path: Path, changes: dict[str, Any], field: str
) -> None:
    remote = Remote({"ssh": StandIn(), "winrm": StandIn()}, Vault.open(tmp_path))  # type: ignore[dict-item]
    hostname = f"bad-{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        with pytest.raises(InvalidInput) as refused:
            await enrol_agentless(
                session, ADMIN, _draft(**{"hostname": hostname, **changes}), remote
            )
        assert refused.value.field == field
        stored = await session.scalar(select(Endpoint).where(Endpoint.hostname == hostname))
    assert stored is None


async def test_the_key_seen_at_enrolment_is_pinned_and_secrets_never_stored_plain(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    remote = Remote({"ssh": StandIn()}, Vault.open(tmp_path))  # type: ignore[dict-item]
    async with sessions() as session:
        endpoint = await enrol_agentless(session, ADMIN, _draft(password=None), remote)
    assert endpoint.host_key == HOST_KEY and endpoint.transport == "ssh" and endpoint.port == 22
    assert endpoint.credentials is not None and "OPENSSH" not in endpoint.credentials
    assert remote.target(endpoint).private_key == PEM

    unreachable = Remote({"ssh": StandIn(seen_key=None)}, Vault.open(tmp_path))  # type: ignore[dict-item]
    async with sessions() as session:
        with pytest.raises(InvalidInput) as refused:
            await enrol_agentless(session, ADMIN, _draft(hostname="off-today"), unreachable)
        assert refused.value.field == "host_key"
        # A key given up front needs no connection: the machine may be off today.
        given = await enrol_agentless(
            session,
            ADMIN,
            _draft(hostname="off-today", host_key=HOST_KEY + " root@kiosk"),
            unreachable,
        )
    assert given.host_key == HOST_KEY


async def _sent_run(sessions: SessionFactory, endpoint_id: str) -> RunOrder:
    run_id = str(uuid.uuid4())
    async with sessions() as session:
        session.add(
            Run(
                id=run_id,
                endpoint_id=endpoint_id,
                action="service.status",
                params={"name": "cups"},
                risk="read",
                state="sent",
                requested_by="ada",
            )
        )
        await session.commit()
    return RunOrder(run_id, "service.status", {"name": "cups"}, False, 30, None)


async def test_a_run_is_executed_once_however_many_processes_are_told(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    transport = StandIn()
    remote = Remote({"ssh": transport}, Vault.open(tmp_path))  # type: ignore[dict-item]
    async with sessions() as session:
        endpoint = await enrol_agentless(session, ADMIN, _draft(hostname="twice"), remote)
    ended: list[tuple[str, Ended]] = []
    replicas = [RemoteRuns(sessions, remote, lambda r, e: ended.append((r, e))) for _ in range(2)]
    for replica in replicas:
        await replica.refresh()
    order = await _sent_run(sessions, endpoint.id)
    transport.release.clear()
    for replica in replicas:  # both controller processes were told to run it
        channel = replica.channel(endpoint.id)
        assert channel is not None
        channel.send_run(order)
    await asyncio.sleep(0.2)
    transport.release.set()
    for _ in range(200):
        if ended:
            break
        await asyncio.sleep(0.05)
    for replica in replicas:
        await replica.aclose()
    assert transport.runs == [(endpoint.id, "service.status")]
    assert [(run_id, e.state) for run_id, e in ended] == [(order.run_id, "succeeded")]
    async with sessions() as session:
        run = await session.get(Run, order.run_id)
    assert run is not None and run.state == "succeeded" and run.result is not None
    assert run.result["output"] == "service.status on 10.0.0.5 as deskside"


async def test_cancel_and_restart_never_run_a_command_again(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    transport = StandIn()
    remote = Remote({"ssh": transport}, Vault.open(tmp_path))  # type: ignore[dict-item]
    async with sessions() as session:
        endpoint = await enrol_agentless(session, ADMIN, _draft(hostname="cancelled"), remote)
    runs = RemoteRuns(sessions, remote, lambda r, e: None)
    await runs.refresh()
    order = await _sent_run(sessions, endpoint.id)
    transport.release.clear()
    channel = runs.channel(endpoint.id)
    assert channel is not None
    channel.send_run(order)
    await asyncio.sleep(0.2)
    channel.cancel_run(order.run_id)
    await runs.aclose()
    async with sessions() as session:
        cancelled = await session.get(Run, order.run_id)
        assert cancelled is not None and cancelled.state == "cancelled"
        # A run left running by a controller that died is interrupted, not run again.
        left = await _sent_run(sessions, endpoint.id)
        stuck = await session.get(Run, left.run_id)
        assert stuck is not None
        stuck.state = "running"
        await session.commit()
    assert await RemoteRuns(sessions, remote, lambda r, e: None).interrupt_left_running() >= 1
    async with sessions() as session:
        interrupted = await session.get(Run, left.run_id, populate_existing=True)
    assert interrupted is not None and interrupted.state == "interrupted"


async def test_a_fan_out_is_claimed_and_stored_in_a_few_transactions(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    transport = StandIn()
    remote = Remote({"ssh": transport}, Vault.open(tmp_path))  # type: ignore[dict-item]
    endpoints = []
    async with sessions() as session:
        for n in range(30):
            draft = _draft(hostname=f"fan-{n}-{uuid.uuid4().hex[:6]}")
            endpoints.append((await enrol_agentless(session, ADMIN, draft, remote)).id)
    orders = [await _sent_run(sessions, e) for e in endpoints]
    opened = [0]

    def counted() -> Any:
        opened[0] += 1
        return sessions()

    ended: list[Ended] = []
    runs = RemoteRuns(counted, remote, lambda r, e: ended.append(e))  # type: ignore[arg-type]
    await runs.refresh()
    opened[0] = 0
    transport.release.clear()
    for endpoint_id, order in zip(endpoints, orders, strict=True):
        channel = runs.channel(endpoint_id)
        assert channel is not None
        channel.send_run(order)
    await asyncio.sleep(0.2)
    transport.release.set()  # all 30 finish together
    for _ in range(200):
        if len(ended) == 30:
            break
        await asyncio.sleep(0.05)
    await runs.aclose()
    assert [e.state for e in ended] == ["succeeded"] * 30
    assert opened[0] <= 4, "a transaction per run"  # one claim, then results as they gather
    async with sessions() as session:
        stored = await session.scalars(select(Run.state).where(Run.endpoint_id.in_(endpoints)))
        reached = await session.scalars(
            select(Endpoint.connected).where(Endpoint.id.in_(endpoints))
        )
        assert set(stored) == {"succeeded"} and set(reached) == {True}
