"""The controller's live output hub: whose output is kept, how much, how long, and who hears."""

from __future__ import annotations

import asyncio

from controller.runs.output import OutputHub

OWNERS = {"run-a": "endpoint-a", "run-b": "endpoint-b"}


class Lookups:
    """The run -> endpoint lookup, counting how often the database would be asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, run_id: str) -> str | None:
        self.asked.append(run_id)
        return OWNERS.get(run_id)


def texts(hub: OutputHub, run_id: str, offset: int = 0) -> list[tuple[int, str]]:
    return [(chunk.offset, chunk.text) for chunk in hub.since(run_id, offset)]


async def test_chunks_are_kept_in_order_and_read_from_an_offset() -> None:
    hub = OutputHub(Lookups())
    assert await hub.accept("endpoint-a", "run-a", 0, b"one\n")
    assert await hub.accept("endpoint-a", "run-a", 4, b"two\n")
    assert await hub.accept("endpoint-a", "run-a", 20, b"after a gap\n")
    assert texts(hub, "run-a") == [(0, "one\n"), (4, "two\n"), (20, "after a gap\n")]
    assert texts(hub, "run-a", 8) == [(20, "after a gap\n")]
    assert texts(hub, "run-unknown") == []


async def test_only_the_runs_own_endpoint_may_write_and_the_owner_is_looked_up_once() -> None:
    lookups = Lookups()
    hub = OutputHub(lookups)
    assert not await hub.accept("endpoint-b", "run-a", 0, b"not yours\n")
    assert not await hub.accept("endpoint-a", "run-missing", 0, b"no such run\n")
    assert await hub.accept("endpoint-a", "run-a", 0, b"mine\n")
    assert not await hub.accept("endpoint-b", "run-a", 5, b"still not yours\n")
    assert not await hub.accept("endpoint-a", "run-missing", 12, b"still no such run\n")
    assert texts(hub, "run-a") == [(0, "mine\n")]
    assert texts(hub, "run-missing") == []
    assert lookups.asked == ["run-a", "run-missing"]


async def test_a_resent_or_oversized_chunk_is_refused() -> None:
    hub = OutputHub(Lookups(), max_bytes=10)
    assert await hub.accept("endpoint-a", "run-a", 0, b"12345")
    assert not await hub.accept("endpoint-a", "run-a", 0, b"12345")
    assert not await hub.accept("endpoint-a", "run-a", 5, b"x" * 11)
    assert texts(hub, "run-a") == [(0, "12345")]


async def test_past_its_bound_a_run_drops_its_oldest_chunks_and_keeps_offsets() -> None:
    hub = OutputHub(Lookups(), max_bytes=10)
    for offset in range(0, 20, 4):
        assert await hub.accept("endpoint-a", "run-a", offset, b"abc\n")
    assert texts(hub, "run-a") == [(12, "abc\n"), (16, "abc\n")]


async def test_the_least_recently_active_run_goes_when_there_are_too_many() -> None:
    hub = OutputHub(Lookups(), max_runs=1)
    await hub.accept("endpoint-a", "run-a", 0, b"a\n")
    await hub.accept("endpoint-b", "run-b", 0, b"b\n")
    assert texts(hub, "run-a") == []
    assert texts(hub, "run-b") == [(0, "b\n")]


async def test_an_idle_run_is_forgotten() -> None:
    lookups = Lookups()
    hub = OutputHub(lookups, idle_s=0.05)
    await hub.accept("endpoint-a", "run-a", 0, b"a\n")
    await asyncio.sleep(0.3)
    assert texts(hub, "run-a") == []
    # Output coming again after that is kept again (its owner looked up again).
    assert await hub.accept("endpoint-a", "run-a", 2, b"b\n")
    assert texts(hub, "run-a") == [(2, "b\n")]
    assert lookups.asked == ["run-a", "run-a"]


async def test_subscribers_are_woken_by_their_runs_output_only() -> None:
    hub = OutputHub(Lookups())
    with hub.subscribe("run-a") as more_a, hub.subscribe("run-b") as more_b:
        waiting = asyncio.create_task(more_a.wait())
        await hub.accept("endpoint-a", "run-a", 0, b"a\n")
        await asyncio.wait_for(waiting, 5)
        assert not more_b.is_set()
        more_a.clear()
    assert await hub.accept("endpoint-a", "run-a", 2, b"b\n")
    assert not more_a.is_set()  # unsubscribed
