"""The fleet's storage rules, in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from controller.access.actor import Actor
from controller.errors import EnrollmentRefused, InvalidInput
from controller.fleet import enrollment
from controller.fleet.endpoints import EndpointFilter, list_endpoints
from controller.fleet.inventory import InventoryMessage, Outcome, apply_inventory, latest_inventory
from controller.pki import CertificateAuthority
from controller.storage.db import SessionFactory
from controller.storage.models import Endpoint, InventoryChange

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
WINDOW = dt.timedelta(seconds=10)
SYSTEM = Actor.system("test")


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("pki"))


async def _endpoint(sessions: SessionFactory, endpoint_id: str, hostname: str = "pc") -> None:
    async with sessions() as session:
        session.add(Endpoint(id=endpoint_id, hostname=hostname))
        await session.commit()


def _msg(
    seq: int,
    sections: dict[str, object],
    *,
    full: bool = False,
    base: int = 0,
    removed: list[str] | None = None,
) -> InventoryMessage:
    return InventoryMessage(seq, full, base, NOW, dict(sections), removed or [])


async def test_full_then_delta_merges_and_duplicates_change_nothing(
    sessions: SessionFactory,
) -> None:
    await _endpoint(sessions, "inv-1")
    os_section = {
        "name": "Debian GNU/Linux",
        "version": "12",
        "family": "linux",
        "hostname": "pc-7",
    }
    async with sessions() as s:
        assert (
            await apply_inventory(
                s, "inv-1", _msg(1, {"os": os_section, "cpu": {"u": 1}, "users": {}}, full=True)
            )
            is Outcome.APPLIED
        )
    async with sessions() as s:
        assert (
            await apply_inventory(s, "inv-1", _msg(2, {"cpu": {"u": 2}}, base=1, removed=["users"]))
            is Outcome.APPLIED
        )
    async with sessions() as s:
        assert (
            await apply_inventory(s, "inv-1", _msg(2, {"cpu": {"u": 99}}, base=1))
            is Outcome.DUPLICATE
        )
    async with sessions() as s:
        latest = await latest_inventory(s, SYSTEM, "inv-1")
        assert latest.data == {"os": os_section, "cpu": {"u": 2}}
        endpoint = await s.get(Endpoint, "inv-1")
        assert endpoint is not None
        assert (endpoint.os_family, endpoint.os_name, endpoint.hostname) == (
            "linux",
            "Debian GNU/Linux 12",
            "pc-7",
        )
        count = await s.scalar(
            select(func.count())
            .select_from(InventoryChange)
            .where(InventoryChange.endpoint_id == "inv-1")
        )
        assert count == 2


async def test_delta_on_an_unknown_base_asks_for_a_full_snapshot(sessions: SessionFactory) -> None:
    await _endpoint(sessions, "inv-2")
    async with sessions() as s:
        assert await apply_inventory(s, "inv-2", _msg(1, {"cpu": {}}, base=0)) is Outcome.NEED_FULL
    async with sessions() as s:
        await apply_inventory(s, "inv-2", _msg(2, {"cpu": {"u": 1}}, full=True))
    async with sessions() as s:
        # Seq 3 was lost (a bounded spool dropped it): seq 4 builds on it.
        assert (
            await apply_inventory(s, "inv-2", _msg(4, {"cpu": {"u": 3}}, base=3))
            is Outcome.NEED_FULL
        )
        assert (await latest_inventory(s, SYSTEM, "inv-2")).data == {"cpu": {"u": 1}}


async def test_a_token_serves_exactly_one_of_two_racing_agents(
    sessions: SessionFactory, ca: CertificateAuthority
) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    def csr() -> bytes:
        key = ec.generate_private_key(ec.SECP256R1())
        request = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .sign(key, hashes.SHA256())
        )
        return request.public_bytes(serialization.Encoding.PEM)

    async with sessions() as s:
        token = (
            await enrollment.create_token(s, SYSTEM, ca, ttl_s=600, tags=["b", "a", "a"])
        ).token

    async def attempt(name: str) -> str:
        async with sessions() as s:
            try:
                enrolled = await enrollment.enroll(
                    s, ca, token=token, csr_pem=csr(), hostname=name, agent_version="t", os_name="t"
                )
            except EnrollmentRefused as exc:
                return exc.reason
            assert enrolled.tags == ["a", "b"]
            return "enrolled"

    outcomes = await asyncio.gather(*(attempt(f"racer-{i}") for i in range(4)))
    assert sorted(outcomes) == ["enrolled", "token_used", "token_used", "token_used"]
    async with sessions() as s:
        racers = await s.scalar(
            select(func.count()).select_from(Endpoint).where(Endpoint.hostname.like("racer-%"))
        )
        assert racers == 1


async def test_bad_tags_and_unknown_sites_are_refused(
    sessions: SessionFactory, ca: CertificateAuthority
) -> None:
    async with sessions() as s:
        with pytest.raises(InvalidInput, match=r"tags\[0\]"):
            await enrollment.create_token(s, SYSTEM, ca, ttl_s=600, tags=["; rm -rf /"])
        with pytest.raises(InvalidInput, match="site_id"):
            await enrollment.create_token(s, SYSTEM, ca, ttl_s=600, site_id=424242)


async def test_paging_walks_every_endpoint_once_in_hostname_order(sessions: SessionFactory) -> None:
    for i in range(7):
        await _endpoint(sessions, f"page-{i}", hostname=f"zz-page-{6 - i}")
    seen: list[str] = []
    cursor = None
    async with sessions() as s:
        while True:
            page = await list_endpoints(
                s, SYSTEM, EndpointFilter(os=None), window=WINDOW, limit=3, cursor=cursor
            )
            seen += [e.hostname for e in page.items if e.hostname.startswith("zz-page")]
            cursor = page.next_cursor
            if cursor is None:
                break
        with pytest.raises(InvalidInput, match="limit"):
            await list_endpoints(s, SYSTEM, EndpointFilter(), window=WINDOW, limit=0)
    assert seen == [f"zz-page-{i}" for i in range(7)]


def test_modules_are_importable_without_the_web_stack() -> None:
    # Domain code must not import FastAPI or gRPC.
    import subprocess
    import sys

    code = (
        "import sys, controller.fleet.inventory, controller.fleet.enrollment, "
        "controller.fleet.endpoints, controller.fleet.presence;"
        "bad=[m for m in ('fastapi','grpc','starlette') if m in sys.modules];"
        "print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2]
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_os_filter_matches_text_literally(sessions: SessionFactory) -> None:
    async with sessions() as s:
        s.add(Endpoint(id="os-1", hostname="w1", os_name="Windows 11 Pro", os_family="windows"))
        s.add(
            Endpoint(id="os-2", hostname="w2", os_name="Windows_Server 100%", os_family="windows")
        )
        await s.commit()

    async def names(text: str) -> set[str]:
        async with sessions() as s:
            page = await list_endpoints(
                s, SYSTEM, EndpointFilter(os=text), window=WINDOW, limit=100
            )
            return {e.hostname for e in page.items}

    assert await names("windows") == {"w1", "w2"}
    assert await names("11 pro") == {"w1"}
    assert await names("_") == {"w2"}
    assert await names("%") == {"w2"}
    assert await names("Windows%11") == set()
