"""Self-service in-process, on SQLite and PostgreSQL: the fixes' allow-list, which machine a
request comes from, who may run a fix where, and satisfaction surveys answered once."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from catalogue import Risk, validate
from catalogue import get as get_action
from controller.access.actor import Actor
from controller.access.roles import Permission, Role
from controller.desk import surveys, workflow
from controller.desk.tickets import TicketDraft, create_ticket, links
from controller.desk.timeline import timeline
from controller.errors import Conflict, Forbidden, InvalidInput, NotFound
from controller.fleet.this_machine import machine_at, reported_addresses, usable_address
from controller.runs import self_service
from controller.runs.service import get_run
from controller.storage.db import SessionFactory
from controller.storage.models import (
    AuditEvent,
    Endpoint,
    Inventory,
    Run,
    SelfServiceRun,
    Ticket,
    User,
    ticket_endpoints,
)
from controller.storage.types import utcnow

TEMP_DIRS = {"/tmp", "/var/tmp", "C:\\Windows\\Temp"}


# --- the allow-list ---------------------------------------------------------------------


@pytest.mark.parametrize("fix", list(self_service.FIXES.values()), ids=lambda f: f.id)
def test_every_fix_is_a_valid_safe_catalogue_run_with_fixed_params(
    fix: self_service.Fix,
) -> None:
    for step in (fix.posix, fix.windows):
        spec = get_action(step.action)
        assert spec.risk in (Risk.LOW, Risk.MEDIUM), "a fix never waits for approval"
        validate(step.action, step.params)  # raises if the fixed parameters are wrong
        assert step.action in {"disk.cleanup", "print.clear_queue", "service.restart"}


def test_clearing_temporary_files_touches_only_temp_dirs_and_only_old_files() -> None:
    fix = self_service.get_fix("clear-temp")
    for os_family in ("linux", "darwin", "windows"):
        params = fix.step_for(os_family).params
        assert set(params["paths"]) <= TEMP_DIRS
        assert params["older_than_s"] >= 86400
    assert fix.step_for("windows").params["paths"] == ["C:\\Windows\\Temp"]


def test_an_unknown_fix_is_not_found() -> None:
    with pytest.raises(NotFound):
        self_service.get_fix("format-c")


# --- which machine ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "usable"),
    [
        ("192.0.2.10", "192.0.2.10"),
        ("::ffff:192.0.2.10", "192.0.2.10"),
        ("2001:db8::5", "2001:db8::5"),
        ("127.0.0.1", None),
        ("::1", None),
        ("fe80::1%eth0", None),
        ("169.254.3.4", None),
        ("0.0.0.0", None),
        ("not-an-address", None),
        (None, None),
    ],
)
def test_only_addresses_that_can_name_one_machine_count(
    text: str | None, usable: str | None
) -> None:
    expected = ipaddress.ip_address(usable) if usable else None
    assert usable_address(text) == expected


def _inventory(*addresses: str) -> dict[str, Any]:
    return {
        "os": {"hostname": "x"},
        "network": {
            "interfaces": [
                {"name": "lo", "addresses": [{"family": "ipv4", "address": "127.0.0.1"}]},
                {
                    "name": "eth0",
                    "addresses": [{"family": "ipv4", "address": a} for a in addresses],
                },
            ]
        },
    }


def test_reported_addresses_leave_out_loopback_and_junk() -> None:
    found = reported_addresses(_inventory("192.0.2.10", "fe80::1%eth0"))
    assert found == {ipaddress.ip_address("192.0.2.10")}
    assert reported_addresses({"network": "garbage"}) == set()
    assert reported_addresses({}) == set()


# --- in the database --------------------------------------------------------------------


async def _user(sessions: SessionFactory, role: Role) -> Actor:
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    async with sessions() as s:
        user = User(username=name, role=role)
        s.add(user)
        await s.commit()
        return Actor(name=name, role=role, user_id=user.id, request_id="req-" + name)


async def _endpoint(
    sessions: SessionFactory, *addresses: str, os_family: str = "linux", revoked: bool = False
) -> Endpoint:
    async with sessions() as s:
        endpoint = Endpoint(
            id=str(uuid.uuid4()),
            hostname=f"pc-{uuid.uuid4().hex[:6]}",
            os_family=os_family,
            revoked_at=utcnow() if revoked else None,
        )
        s.add(endpoint)
        await s.flush()
        s.add(
            Inventory(
                endpoint_id=endpoint.id,
                seq=1,
                collected_at=utcnow(),
                data=_inventory(*addresses),
            )
        )
        await s.commit()
        return endpoint


def _address() -> str:
    """A documentation address no other test in the module uses."""
    return str(ipaddress.ip_address("198.18.0.0") + uuid.uuid4().int % 65000)


async def _counts(sessions: SessionFactory, actor: Actor) -> tuple[int, int]:
    async with sessions() as s:
        tickets = await s.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.requester_id == actor.user_id)
        )
        runs = await s.scalar(
            select(func.count()).select_from(Run).where(Run.requested_by == actor.name)
        )
    return int(tickets or 0), int(runs or 0)


async def test_the_machine_is_the_one_endpoint_reporting_the_address(
    sessions: SessionFactory,
) -> None:
    mine, shared, gone = _address(), _address(), _address()
    machine = await _endpoint(sessions, mine)
    await _endpoint(sessions, shared)
    await _endpoint(sessions, shared)  # two machines behind one address: cannot tell
    await _endpoint(sessions, gone, revoked=True)
    async with sessions() as s:
        found = await machine_at(s, mine)
        assert found is not None and found.id == machine.id
        assert await machine_at(s, f"::ffff:{mine}") is not None
        assert await machine_at(s, shared) is None
        assert await machine_at(s, gone) is None
        assert await machine_at(s, "127.0.0.1") is None  # every agent reports loopback
        assert await machine_at(s, mine[:-1]) is None  # a prefix of an address is not it


async def test_a_fix_runs_on_ones_own_machine_and_is_recorded_on_a_ticket(
    sessions: SessionFactory,
) -> None:
    rita = await _user(sessions, Role.REQUESTER)
    address = _address()
    machine = await _endpoint(sessions, address)
    sent: list[list[Run]] = []
    async with sessions() as s:
        started = await self_service.run_fix(
            s,
            rita,
            "clear-temp",
            endpoint_id=machine.id,
            client_address=address,
            confirmed=True,
            before_commit=sent.append,
        )
    run, ticket = started.run, started.ticket
    assert (run.action, run.endpoint_id, run.ticket_id) == ("disk.cleanup", machine.id, ticket.id)
    assert run.params == {"paths": ["/tmp", "/var/tmp"], "older_than_s": 7 * 86400}
    assert (run.requested_by, run.requested_by_user_id, run.approval) == (
        rita.name,
        rita.user_id,
        "none",
    )
    assert sent == [[run]]
    assert (ticket.requester_id, ticket.channel) == (rita.user_id, "portal")
    async with sessions() as s:
        linked = await s.scalars(
            select(ticket_endpoints.c.endpoint_id).where(ticket_endpoints.c.ticket_id == ticket.id)
        )
        assert list(linked) == [machine.id]
        record = await s.get(SelfServiceRun, run.id)
        assert record is not None
        assert (record.fix_id, record.user_id, record.client_address) == (
            "clear-temp",
            rita.user_id,
            address,
        )
        audit = await s.scalars(select(AuditEvent).where(AuditEvent.object_id == run.id))
        (event,) = audit  # one event for the run, saying how it was asked for
        assert event.action == "request" and event.after["action"] == "disk.cleanup"
        assert event.after["self_service"] == {
            "fix": "clear-temp",
            "client_address": address,
            "confirmed": True,
        }
        kinds = [(e.kind, e.public) for e in await timeline(s, rita, ticket.id)]
        assert ("self_service", True) in kinds and ("link", True) in kinds
        # The requester follows it through self-service, and still cannot read runs.
        (mine,) = await self_service.fix_runs(s, rita, ticket_id=ticket.id)
        assert mine[1].id == run.id
        with pytest.raises(Forbidden):
            await get_run(s, rita, run.id)
    assert Permission.RUNS_CREATE not in rita.permissions
    async with sessions() as s:  # the next fix on that machine goes on the same open ticket
        again = await self_service.run_fix(
            s,
            rita,
            "restart-print-queue",
            endpoint_id=machine.id,
            client_address=address,
            confirmed=True,
        )
    assert again.ticket.id == ticket.id and again.run.action == "print.clear_queue"
    async with sessions() as s:  # the first is still queued: tapping again adds nothing
        with pytest.raises(Conflict, match="already under way"):
            await self_service.run_fix(
                s, rita, "clear-temp", endpoint_id=machine.id, client_address=address,
                confirmed=True,
            )  # fmt: skip


async def test_no_fix_on_a_machine_that_is_not_the_one_asking(sessions: SessionFactory) -> None:
    rita = await _user(sessions, Role.REQUESTER)
    address = _address()
    await _endpoint(sessions, address)
    other = await _endpoint(sessions, _address())
    before = await _counts(sessions, rita)
    async with sessions() as s:
        with pytest.raises(Forbidden, match="not the computer this request comes from"):
            await self_service.run_fix(
                s, rita, "clear-temp", endpoint_id=other.id, client_address=address, confirmed=True
            )
        with pytest.raises(Forbidden):  # from loopback nothing is anyone's machine
            await self_service.run_fix(
                s, rita, "clear-temp", endpoint_id=other.id, client_address="127.0.0.1",
                confirmed=True,
            )  # fmt: skip
    assert await _counts(sessions, rita) == before


async def test_a_fix_needs_confirmation_and_a_person(sessions: SessionFactory) -> None:
    rita = await _user(sessions, Role.REQUESTER)
    address = _address()
    machine = await _endpoint(sessions, address)
    before = await _counts(sessions, rita)
    async with sessions() as s:
        with pytest.raises(InvalidInput) as refused:
            await self_service.run_fix(
                s, rita, "clear-temp", endpoint_id=machine.id, client_address=address,
                confirmed=False,
            )  # fmt: skip
        assert refused.value.field == "confirm"
        with pytest.raises(NotFound):
            await self_service.run_fix(
                s, rita, "rm-rf", endpoint_id=machine.id, client_address=address, confirmed=True
            )
        with pytest.raises(Forbidden):  # the controller itself is nobody's desk
            await self_service.run_fix(
                s, Actor.system("cli"), "clear-temp", endpoint_id=machine.id,
                client_address=address, confirmed=True,
            )  # fmt: skip
    assert await _counts(sessions, rita) == before


async def test_a_fix_goes_only_on_an_open_ticket_of_ones_own(sessions: SessionFactory) -> None:
    rita, ravi = await _user(sessions, Role.REQUESTER), await _user(sessions, Role.REQUESTER)
    address = _address()
    machine = await _endpoint(sessions, address)
    async with sessions() as s:
        ravis = await create_ticket(s, ravi, TicketDraft(title="Ravi's own"))
        with pytest.raises(InvalidInput) as refused:
            await self_service.run_fix(
                s, rita, "clear-temp", endpoint_id=machine.id, client_address=address,
                confirmed=True, ticket_id=ravis.id,
            )  # fmt: skip
        assert refused.value.field == "ticket_id"


async def test_linking_this_machine_to_ones_ticket(sessions: SessionFactory) -> None:
    rita = await _user(sessions, Role.REQUESTER)
    address = _address()
    machine, other = await _endpoint(sessions, address), await _endpoint(sessions, _address())
    async with sessions() as s:
        ticket = await create_ticket(s, rita, TicketDraft(title="Screen flickers"))
        with pytest.raises(Forbidden):
            await self_service.link_this_machine(s, rita, ticket.id, other.id, address)
        await self_service.link_this_machine(s, rita, ticket.id, machine.id, address)
        await self_service.link_this_machine(s, rita, ticket.id, machine.id, address)  # again
        assert (await links(s, ticket.id))[0] == [machine.id]
        entries = [e for e in await timeline(s, rita, ticket.id) if e.kind == "link"]
        assert [e.body for e in entries] == [f"This computer: {machine.hostname}"]


# --- surveys ----------------------------------------------------------------------------


async def _resolved_ticket(sessions: SessionFactory, requester: Actor) -> int:
    agent = Actor(name="tina", role=Role.TIER1)
    async with sessions() as s:
        ticket = await create_ticket(s, requester, TicketDraft(title="Printer jams"))
        ticket_id = ticket.id
        with pytest.raises(Conflict, match="opens once it is resolved"):
            await surveys.answer(s, requester, ticket_id, 4)
        await workflow.transition(s, agent, ticket_id, "resolved", resolution="new roller")
    return ticket_id


async def test_the_requester_answers_a_resolved_tickets_survey_once(
    sessions: SessionFactory,
) -> None:
    rita, ravi = await _user(sessions, Role.REQUESTER), await _user(sessions, Role.REQUESTER)
    tina = await _user(sessions, Role.TIER1)
    ticket_id = await _resolved_ticket(sessions, rita)
    async with sessions() as s:
        assert (await surveys.survey(s, rita, ticket_id)).can_answer
        assert not (await surveys.survey(s, tina, ticket_id)).can_answer
        with pytest.raises(NotFound):  # another requester does not even see the ticket
            await surveys.answer(s, ravi, ticket_id, 5)
        with pytest.raises(Forbidden, match="only the ticket's requester"):
            await surveys.answer(s, tina, ticket_id, 5)
        with pytest.raises(InvalidInput) as bad:
            await surveys.answer(s, rita, ticket_id, 6)
        assert bad.value.field == "rating"
        given = await surveys.answer(s, rita, ticket_id, 4, " Quick, thanks ")
        assert (given.rating, given.comment, given.user_id) == (4, "Quick, thanks", rita.user_id)
        with pytest.raises(Conflict, match="already answered"):
            await surveys.answer(s, rita, ticket_id, 1, "changed my mind")
    async with sessions() as s:
        status = await surveys.survey(s, tina, ticket_id)  # staff read it
        assert status.answer is not None and status.answer.rating == 4
        assert not (await surveys.survey(s, rita, ticket_id)).can_answer
        entries = [e for e in await timeline(s, rita, ticket_id) if e.kind == "survey"]
        assert [(e.public, e.body) for e in entries] == [
            (True, "Satisfaction: 4 of 5\n\nQuick, thanks")
        ]
