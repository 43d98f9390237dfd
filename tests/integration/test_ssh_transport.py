"""The ssh transport against real OpenSSH servers: auth, host keys, pooling, timeouts, sudo.

Most servers listen on loopback in this namespace. The fan-out, dead-host and jump tests
use a NetnsLab, whose hosts the root namespace cannot reach: there the transport runs
inside the lab's "ctl" host (sshd.fan_out_in). Commands run as a throwaway /bin/sh user,
so no login-shell start-up files of this machine's root slow or change them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from databases import require_or_skip
from netns import NetnsLab, netns_available
from sshd import Sshd, ThrowawayUser, fan_out_in, keypair, running, sshd_unavailable

from catalogue import ActionResult
from controller.transports.base import RemoteContext, Target
from controller.transports.errors import CommandTimedOut, HostKeyRefused
from controller.transports.ssh import SshPool, SshShell, SshTransport

READ_ACTION = "process.list"  # catalogue risk READ: never through sudo
CHANGE_ACTION = "service.restart"  # risk MEDIUM: through sudo when the target says so


def run_argv(params: dict[str, Any], ctx: RemoteContext) -> ActionResult:
    done = ctx.run(params["argv"], stdin=params.get("stdin"))
    return ActionResult(output=done.stdout, data={"rc": done.returncode, "err": done.stderr})


def uname(ctx: RemoteContext) -> dict[str, Any]:
    return {"kernel": ctx.run(["uname", "-s"]).stdout.strip()}


@dataclasses.dataclass
class Env:
    user: ThrowawayUser
    private_key: str
    public_key: str
    key_sshd: Sshd
    password_sshd: Sshd
    tmp: Path

    def target(self, sshd: Sshd, **changes: Any) -> Target:
        base = Target(
            endpoint_id=f"ep-{sshd.port}",
            transport="ssh",
            address=sshd.address,
            port=sshd.port,
            username=self.user.name,
            private_key=self.private_key,
            host_key=sshd.host_key,
            connect_timeout_s=5,
        )
        return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    require_or_skip(sshd_unavailable())
    tmp = tmp_path_factory.mktemp("ssh")
    private_key, public_key = keypair(tmp, "client")
    user = ThrowawayUser("s3cret pass'word", sudo=True)
    try:
        with running(Sshd(authorized_keys=[public_key]), Sshd(password_auth=True)) as servers:
            yield Env(user, private_key, public_key, *servers, tmp)
    finally:
        user.remove()


@pytest.fixture
async def transport() -> AsyncIterator[SshTransport]:
    ssh = SshTransport({READ_ACTION: run_argv, CHANGE_ACTION: run_argv}, uname)
    yield ssh
    await ssh.aclose()


async def run(ssh: SshTransport, target: Target, argv: list[str], **kw: Any) -> ActionResult:
    action = kw.pop("action", READ_ACTION)
    timeout_s = kw.pop("timeout_s", 20)
    return await ssh.run_action(
        target, action, {"argv": argv, **kw}, dry_run=False, timeout_s=timeout_s
    )


async def test_key_auth_passes_every_argument_literally(env: Env, transport: SshTransport) -> None:
    marker = env.tmp / "injected"
    tricky = ["a b", "it's", '"q"', f"$(touch {marker})", f"`touch {marker}`", f"; touch {marker}"]
    result = await run(transport, env.target(env.key_sshd), ["printf", "%s\\n", *tricky])
    assert result.ok, result.error
    assert result.output.splitlines() == tricky
    assert not marker.exists(), "an argument reached the remote shell unquoted"
    echoed = await run(transport, env.target(env.key_sshd), ["cat"], stdin="secret\n")
    assert echoed.output == "secret\n"
    assert await transport.inventory(env.target(env.key_sshd)) == {"kernel": "Linux"}


async def test_password_auth(env: Env, transport: SshTransport) -> None:
    target = env.target(env.password_sshd, private_key=None, password=env.user.password)
    result = await run(transport, target, ["id", "-un"])
    assert result.ok, result.error
    assert result.output.strip() == env.user.name
    wrong = await run(transport, dataclasses.replace(target, password="nope"), ["true"])
    assert wrong.error is not None and wrong.error.code == "authentication_failed"
    # A key-only server refuses a target that has only a password.
    keyless = env.target(env.key_sshd, private_key=None, password=env.user.password)
    refused = await run(transport, keyless, ["true"])
    assert refused.error is not None and refused.error.code == "authentication_failed"


async def test_changed_or_unpinned_host_key_is_refused_before_any_command(env: Env) -> None:
    marker = env.tmp / "ran-after-key-change"
    with running(Sshd(authorized_keys=[env.public_key])) as (sshd,):
        old_key = sshd.host_key
        pool = SshPool()
        target = env.target(sshd)
        assert await pool.host_key(target) == old_key
        with pytest.raises(HostKeyRefused) as unpinned:
            async with pool.lease(dataclasses.replace(target, host_key=None)):
                pass
        assert unpinned.value.seen == old_key

        sshd.new_host_key()
        sshd.restart()
        assert sshd.host_key != old_key
        fresh = SshPool()  # the first pool's connection was verified, and may live on
        with pytest.raises(HostKeyRefused) as changed:
            async with fresh.lease(target) as connection:
                SshShell(connection, "x").run(["touch", str(marker)])
        assert changed.value.seen == sshd.host_key
        assert not marker.exists()
        # Explicit re-trust: pinning the key the host now shows lets the connection through.
        async with fresh.lease(dataclasses.replace(target, host_key=sshd.host_key)) as connection:
            assert SshShell(connection, "x").run(["true"]).returncode == 0
        await pool.aclose()
        await fresh.aclose()


async def test_one_connection_serves_many_commands_and_has_nodelay(
    env: Env, transport: SshTransport
) -> None:
    target = env.target(env.key_sshd, endpoint_id="pooled")
    # Cold and concurrent: the per-target lock makes them wait for one handshake.
    results = await asyncio.gather(*(run(transport, target, ["echo", str(i)]) for i in range(10)))
    assert [r.output for r in results] == [f"{i}\n" for i in range(10)]
    for i in range(10):
        assert (await run(transport, target, ["echo", str(i)])).output == f"{i}\n"
    assert transport.pool.opened == 1
    async with transport.pool.lease(target) as connection:
        sock = connection.transport.sock
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    # Another endpoint on the same server is another connection.
    await run(transport, dataclasses.replace(target, endpoint_id="other"), ["true"])
    assert transport.pool.opened == 2


async def test_a_command_past_its_timeout_is_stopped(env: Env, transport: SshTransport) -> None:
    target = env.target(env.key_sshd, endpoint_id="slow")
    result = await run(transport, target, ["sleep", "30"], timeout_s=1)
    assert result.error is not None and result.error.code == "timeout"
    async with transport.pool.lease(target) as connection:
        with pytest.raises(CommandTimedOut):
            SshShell(connection, "x").run(["sleep", "30"], timeout=1)
    # The connection outlives the timed-out commands.
    assert (await run(transport, target, ["echo", "still here"])).output == "still here\n"
    assert transport.pool.opened == 1


async def test_sudo_only_for_actions_that_change_the_machine(
    env: Env, transport: SshTransport
) -> None:
    with_sudo = env.target(env.key_sshd, sudo=True)
    changed = await run(transport, with_sudo, ["id", "-u"], action=CHANGE_ACTION)
    assert changed.ok and changed.output.strip() == "0", changed
    looked = await run(transport, with_sudo, ["id", "-u"], action=READ_ACTION)
    assert looked.output.strip() not in ("", "0")
    plain = await run(transport, env.target(env.key_sshd), ["id", "-u"], action=CHANGE_ACTION)
    assert plain.output.strip() == looked.output.strip()


async def test_unknown_action_is_not_supported(env: Env, transport: SshTransport) -> None:
    result = await run(transport, env.target(env.key_sshd), ["true"], action="system.reboot")
    assert result.error is not None and result.error.code == "not_supported"


# --- across network namespaces -------------------------------------------------------------

HOSTS = ["h1", "h2", "h3"]


@pytest.fixture(scope="module")
def lab(env: Env) -> Iterator[tuple[NetnsLab, dict[str, Sshd]]]:
    require_or_skip(netns_available())
    with NetnsLab("dsssh") as lab:
        lab.add_hosts(["ctl", *HOSTS])
        keys = [env.public_key]
        servers = {
            h: Sshd(address=lab[h].address, port=22, host=lab[h], authorized_keys=keys)
            for h in HOSTS
        }
        # A server only h1 itself can reach: on h1's loopback.
        servers["inner"] = Sshd(
            address="127.0.0.1", port=2200, host=lab["h1"], authorized_keys=keys
        )
        with running(*servers.values()):
            yield lab, servers


def fields(env: Env, sshd: Sshd, **extra: Any) -> dict[str, Any]:
    return dataclasses.asdict(env.target(sshd, **extra))


def test_dead_hosts_fail_alone_and_warm_rounds_reuse_connections(
    env: Env, lab: tuple[NetnsLab, dict[str, Sshd]]
) -> None:
    netns, servers = lab
    targets = {h: fields(env, servers[h], connect_timeout_s=2) for h in HOSTS}
    targets["closed"] = fields(env, servers["h2"], port=2999, endpoint_id="closed")
    netns["h3"].cut()
    try:
        answer = fan_out_in(
            netns["ctl"],
            {"targets": targets, "argv": ["cat", "/proc/sys/kernel/hostname"], "timeout_s": 10},
        )
        warm = fan_out_in(
            netns["ctl"],
            {"targets": {h: targets[h] for h in ("h1", "h2")}, "argv": ["true"],
             "timeout_s": 10, "rounds": 3},
        )  # fmt: skip
    finally:
        netns["h3"].restore()
    results = answer["results"]
    assert results["h1"]["error"] is None and results["h2"]["error"] is None, results
    assert results["h3"]["error"]["code"] == "unreachable"
    assert "timed out" in results["h3"]["error"]["message"]
    assert results["closed"]["error"]["code"] == "unreachable"
    assert "refused" in results["closed"]["error"]["message"].lower()
    # The cut host held nobody up: the others answered before its connect gave up.
    assert answer["order"][-1] == "h3"
    assert answer["opened"] == 2
    assert warm["opened"] == 2, "a warm round opened new connections"


def test_jump_host_reaches_a_server_only_it_can_see(
    env: Env, lab: tuple[NetnsLab, dict[str, Sshd]]
) -> None:
    netns, servers = lab
    jump = fields(env, servers["h1"])
    spec = {
        "targets": {
            "via_jump": fields(env, servers["inner"], endpoint_id="inner") | {"jump": jump},
            "direct": fields(env, servers["inner"], endpoint_id="inner", connect_timeout_s=2),
        },
        "argv": ["ip", "-o", "-4", "addr", "show", "dev", "eth0"],
        "timeout_s": 10,
    }
    answer = fan_out_in(netns["ctl"], spec)
    via_jump, direct = answer["results"]["via_jump"], answer["results"]["direct"]
    assert via_jump["error"] is None, via_jump
    assert f" {netns['h1'].address}/" in via_jump["output"]
    # From ctl, 127.0.0.1:2200 is ctl's own loopback: nothing listens there.
    assert direct["error"]["code"] == "unreachable"
    assert answer["opened"] == 2  # the jump and the inner server


async def test_idle_connections_are_closed_and_reopened_on_demand(env: Env) -> None:
    pool = SshPool(idle_close_s=0)
    target = env.target(env.key_sshd, endpoint_id="idle")
    async with pool.lease(target) as connection:
        assert await pool.close_idle() == 0, "a leased connection was closed"
    assert await pool.close_idle() == 1
    assert not connection.transport.is_active()
    async with pool.lease(target) as again:
        assert SshShell(again, "x").run(["true"]).returncode == 0
    assert pool.opened == 2
    await pool.aclose()
