"""A stream's check results: stored concurrently, acknowledged strictly in order."""

from __future__ import annotations

import asyncio

import pytest

from controller.gateway.in_order import InOrderAcks


async def _stored_when(gate: asyncio.Event, fail: bool = False) -> None:
    await gate.wait()
    if fail:
        raise RuntimeError("database said no")


async def test_acks_wait_for_every_earlier_message() -> None:
    acked: list[int] = []
    acks = InOrderAcks(acked.append)
    acker = asyncio.create_task(acks.run())
    gates = {seq: asyncio.Event() for seq in (1, 2, 3)}
    for seq, gate in gates.items():
        await acks.add(seq, _stored_when(gate))
    gates[3].set()
    gates[2].set()
    await asyncio.sleep(0.01)
    assert acked == []  # 2 and 3 are stored, but an ack of 3 would claim 1 too
    gates[1].set()
    await acks.drain()
    assert acked == [1, 2, 3]
    acker.cancel()


async def test_the_first_failure_stops_the_acks_and_ends_the_acker() -> None:
    acked: list[int] = []
    acks = InOrderAcks(acked.append)
    acker = asyncio.create_task(acks.run())
    ready = asyncio.Event()
    ready.set()
    await acks.add(1, _stored_when(ready))
    await acks.add(2, _stored_when(ready, fail=True))
    await acks.add(3, _stored_when(ready))
    with pytest.raises(RuntimeError):
        await acker
    assert acked == [1]
    await acks.settle()  # waits out seq 3 without acknowledging it
    assert acked == [1]
