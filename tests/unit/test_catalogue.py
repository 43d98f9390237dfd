from __future__ import annotations

import pytest

from catalogue import CATALOGUE, ActionResult, CatalogueError, Risk, validate
from catalogue.registry import MAX_PARAMS_BYTES
from catalogue.result import MAX_OUTPUT, bounded

DIAGNOSTICS = [
    "inventory.collect", "process.list", "service.status", "net.ping", "net.tcp_check",
    "net.dns_resolve", "net.http_check", "net.listening_ports", "disk.usage", "log.tail",
    "file.stat", "cert.check", "time.check",
]  # fmt: skip
REMEDIATIONS = {
    "service.start": Risk.LOW, "service.stop": Risk.MEDIUM, "service.restart": Risk.MEDIUM,
    "process.kill": Risk.MEDIUM, "disk.cleanup": Risk.MEDIUM, "config.set": Risk.MEDIUM,
    "config.rollback": Risk.MEDIUM, "hosts.set": Risk.MEDIUM, "dns.flush": Risk.LOW,
    "time.sync": Risk.MEDIUM, "print.clear_queue": Risk.LOW, "log.rotate": Risk.MEDIUM,
    "user.unlock": Risk.MEDIUM, "user.reset_password": Risk.HIGH, "system.reboot": Risk.HIGH,
}  # fmt: skip


def test_the_catalogue_holds_every_action_with_its_risk() -> None:
    assert set(CATALOGUE) == set(DIAGNOSTICS) | set(REMEDIATIONS)
    for name in DIAGNOSTICS:
        assert CATALOGUE[name].risk is Risk.READ, name
    for name, risk in REMEDIATIONS.items():
        assert CATALOGUE[name].risk is risk, name
        assert CATALOGUE[name].dry_run, f"{name} changes things and must support dry-run"


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("process.kill", {"pid": 4242, "signal": "KILL"}),
        ("process.kill", {"name": "chrome"}),
        ("service.restart", {"name": "cups"}),
        (
            "config.set",
            {"path": "/etc/app/app.ini", "key": "server.port", "value": 8080, "format": "ini"},
        ),
        ("config.rollback", {"rollback": "20261126T101500-3f2a"}),
        ("disk.cleanup", {"paths": ["/tmp", "/var/tmp"], "older_than_s": 86400}),
        ("file.stat", {"path": "/etc/hosts"}),
        ("net.tcp_check", {"host": "intranet.example", "port": 443}),
        ("file.stat", {"path": "C:\\Windows\\System32\\drivers\\etc\\hosts"}),
        ("time.check", {"server": "ntp.example"}),
        ("time.check", {"server": "127.0.0.1:1123"}),
        ("time.sync", {"server": "[2001:db8::1]:123"}),
    ],
)
def test_the_parameter_names_scripts_rely_on(action: str, params: dict[str, object]) -> None:
    validated = validate(action, params)
    assert validated.model_dump(exclude_unset=True) == params


@pytest.mark.parametrize(
    ("action", "params", "field"),
    [
        ("service.restart", {"name": "cron; reboot"}, "params.name"),
        ("service.restart", {"name": "$(reboot)"}, "params.name"),
        ("service.restart", {"name": "`id`"}, "params.name"),
        ("service.restart", {"name": "--force"}, "params.name"),
        ("service.restart", {"name": "cron\x00"}, "params.name"),
        ("service.restart", {"name": "x" * 300}, "params.name"),
        ("process.kill", {"name": "a|b"}, "params.name"),
        ("process.kill", {"pid": 1}, "params.pid"),
        ("process.kill", {"pid": 10, "name": "x"}, "params"),
        ("file.stat", {"path": "../../etc/shadow"}, "params.path"),
        ("file.stat", {"path": "/var/log/../../etc/shadow"}, "params.path"),
        ("file.stat", {"path": "/etc/passwd\x00.txt"}, "params.path"),
        ("file.stat", {"path": "C:\\Windows\\..\\secrets"}, "params.path"),
        ("log.tail", {"path": "/var/log/syslog", "grep": "x\x00"}, "params.grep"),
        ("net.tcp_check", {"host": "-oProxyCommand=id", "port": 22}, "params.host"),
        ("net.tcp_check", {"host": "a b", "port": 22}, "params.host"),
        ("net.tcp_check", {"host": "example.com", "port": 70000}, "params.port"),
        ("net.http_check", {"url": "file:///etc/passwd"}, "params.url"),
        ("config.set", {"path": "/etc/a.ini", "key": "a=b", "value": 1}, "params.key"),
        ("config.set", {"path": "/etc/a.ini", "key": "k", "value": "1\n[evil]"}, "params.value"),
        ("config.rollback", {"rollback": "../../x"}, "params.rollback"),
        ("disk.cleanup", {"paths": []}, "params.paths"),
        ("disk.cleanup", {"paths": ["/tmp/../etc"]}, "params.paths.0"),
        ("user.unlock", {"username": "-r"}, "params.username"),
        ("file.stat", {"path": "/etc/hosts", "follow": True}, "params.follow"),
        ("time.check", {"server": "-oX:123"}, "params.server"),
        ("time.check", {"server": "ntp.example:0"}, "params.server"),
        ("time.check", {"server": "ntp.example:70000"}, "params.server"),
        ("time.check", {"server": "ntp.example:12a"}, "params.server"),
        ("time.check", {"server": "ntp.example:"}, "params.server"),
        ("time.check", {"server": ":123"}, "params.server"),
        ("time.sync", {"server": "[ntp.example]:123"}, "params.server"),
        ("time.sync", {"server": "[::1]123"}, "params.server"),
        ("time.sync", {"server": "[::1"}, "params.server"),
    ],
)
def test_injection_and_bad_values_are_refused_naming_the_field(
    action: str, params: dict[str, object], field: str
) -> None:
    with pytest.raises(CatalogueError) as refused:
        validate(action, params)
    assert refused.value.field == field


def test_unknown_actions_and_huge_params_are_refused() -> None:
    with pytest.raises(CatalogueError, match="unknown action") as unknown:
        validate("shell.exec", {"command": "rm -rf /"})
    assert unknown.value.field == "action"
    with pytest.raises(CatalogueError) as huge:
        validate("file.stat", {"path": "/x"}, size=MAX_PARAMS_BYTES + 1)
    assert huge.value.field == "params"


def test_paths_are_normalised() -> None:
    assert validate("file.stat", {"path": "//etc//./hosts"}).model_dump()["path"] == "/etc/hosts"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("[0::1]:1123", "[::1]:1123"),
        ("NTP.example:09", "NTP.example:9"),
    ],
)
def test_servers_with_ports_are_normalised(given: str, kept: str) -> None:
    assert validate("time.check", {"server": given}).model_dump()["server"] == kept


def test_results_have_one_shape_and_bounded_output() -> None:
    failed = ActionResult.failure("policy_denied", "service.restart is not allowed here")
    assert not failed.ok and failed.error is not None and failed.error.code == "policy_denied"
    long = bounded("x" * (MAX_OUTPUT * 2))
    assert len(long) <= MAX_OUTPUT and long.startswith("[...")
    assert ActionResult(output=long).output == long
    assert set(ActionResult.model_fields) == {
        "changed",
        "output",
        "data",
        "evidence",
        "error",
        "rollback",
    }


def test_risk_order() -> None:
    assert Risk.HIGH.exceeds(Risk.MEDIUM) and not Risk.READ.exceeds(Risk.LOW)


def test_docs_list_every_action_with_its_risk() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "ACTIONS.md").read_text()
    for name, spec in CATALOGUE.items():
        assert f"| `{name}` | {spec.risk} |" in text, f"docs/ACTIONS.md is stale for {name}"


def test_every_action_has_an_agent_implementation() -> None:
    from agent.actions import IMPLEMENTATIONS

    assert set(IMPLEMENTATIONS) == set(CATALOGUE)
