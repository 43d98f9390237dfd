"""Shipped playbooks against a real agent, with the fault injected for real.

One controller and one agent for the module. The agent's policy allows medium risk and
paths inside the module's temporary directory only; the one system service touched is
the SysV test daemon installed for the module (tests/fixtures/deskside-testd.init).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from certificates import self_signed, write_pem
from databases import require_or_skip
from mail_servers import HookReceiver
from playbook_runs import (
    assert_on_timeline,
    escalation,
    open_ticket,
    play,
    start_agent,
    timeline,
)
from processes import ControllerProcess, wait_for

DAEMON = "deskside-testd"
INIT_SCRIPT = Path("/etc/init.d") / DAEMON
PIDFILE = Path("/run") / f"{DAEMON}.pid"


@pytest.fixture(scope="module")
def base(controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Per controller (one per database backend), like the agent that lives in it."""
    return tmp_path_factory.mktemp("playbooks")


@pytest.fixture(scope="module")
def endpoint(controller: ControllerProcess, base: Path) -> Iterator[str]:
    agent, endpoint_id = start_agent(controller, base)
    yield endpoint_id
    agent.stop()


@pytest.fixture(scope="module")
def daemon() -> Iterator[str]:
    require_or_skip(None if os.geteuid() == 0 else "installing an init script needs root")
    require_or_skip(None if shutil.which("start-stop-daemon") else "start-stop-daemon missing")
    if Path("/run/systemd/system").is_dir():
        pytest.skip("this machine runs systemd: the SysV path is not the one the agent takes")
    shutil.copyfile(Path(__file__).parents[1] / "fixtures" / f"{DAEMON}.init", INIT_SCRIPT)
    INIT_SCRIPT.chmod(0o755)
    subprocess.run(["service", DAEMON, "start"], check=True)
    try:
        yield DAEMON
    finally:
        subprocess.run(["service", DAEMON, "stop"], check=False)
        INIT_SCRIPT.unlink(missing_ok=True)
        PIDFILE.unlink(missing_ok=True)


def _pid() -> int:
    return int(PIDFILE.read_text().split()[0])


def _running() -> bool:
    return subprocess.run(["service", DAEMON, "status"], capture_output=True).returncode == 0


def test_service_down_is_restarted_and_verified(
    controller: ControllerProcess, endpoint: str, daemon: str
) -> None:
    old = _pid()
    subprocess.run(["service", DAEMON, "stop"], check=True)
    assert not _running()
    ticket = open_ticket(controller, "test daemon down")
    run = play(controller, endpoint, "service-down", {"service": DAEMON}, ticket_id=ticket)
    assert run["state"] == "succeeded", run["summary"]
    assert _running() and _pid() != old
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["status"]["data"]["state"] == "stopped" and not steps["status"]["ok"]
    assert steps["restart"]["changed"] and steps["restart"]["evidence"]["after"]["pid"] == _pid()
    assert steps["running"]["ok"] and steps["running"]["data"]["pid"] == _pid()
    assert_on_timeline(controller, run)


def test_service_already_running_is_left_alone(
    controller: ControllerProcess, endpoint: str, daemon: str
) -> None:
    before = _pid()
    run = play(controller, endpoint, "service-down", {"service": DAEMON})
    assert run["state"] == "succeeded" and _pid() == before
    assert [s["state"] for s in run["steps"]] == ["succeeded", "skipped", "succeeded"]


def test_disk_full_temp_deletes_old_files(
    controller: ControllerProcess, endpoint: str, base: Path
) -> None:
    temp = base / "work" / "temp"
    temp.mkdir()
    old = time.time() - 30 * 86400
    for n in range(20):
        path = temp / f"junk-{n}.tmp"
        path.write_bytes(os.urandom(64 * 1024))
        os.utime(path, (old, old))
    ticket = open_ticket(controller, "disk full")
    inputs = {"path": str(temp), "older_than_s": 86400, "max_bytes": 8192}
    run = play(controller, endpoint, "disk-full-temp", inputs, ticket_id=ticket)
    assert run["state"] == "succeeded", run["summary"]
    assert list(temp.iterdir()) == []
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["usage"]["data"]["total_bytes"] >= 20 * 64 * 1024
    assert steps["cleanup"]["data"]["files"] == 20 and steps["below"]["ok"]
    assert_on_timeline(controller, run)


@pytest.fixture
def runaway(base: Path) -> Iterator[subprocess.Popen[bytes]]:
    shell = base / "work" / "dskrunaway"
    shutil.copyfile("/bin/sh", shell)
    shell.chmod(0o755)
    process = subprocess.Popen([str(shell), "-c", "while :; do :; done"])
    reaper = threading.Thread(target=process.wait, daemon=True)  # no zombie left behind
    reaper.start()
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()


def test_runaway_process_is_stopped(
    controller: ControllerProcess, endpoint: str, runaway: subprocess.Popen[bytes]
) -> None:
    time.sleep(1)  # let it show some CPU
    ticket = open_ticket(controller, "machine is slow")
    inputs = {"name": "dskrunaway", "min_cpu": 5}
    run = play(controller, endpoint, "runaway-process", inputs, ticket_id=ticket)
    assert run["state"] == "succeeded", run["summary"]
    wait_for(lambda: runaway.poll() is not None, 10, "runaway gone")
    assert runaway.returncode == -signal.SIGTERM
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["find"]["data"]["processes"][0]["pid"] == runaway.pid
    assert steps["stop"]["evidence"]["after"]["signalled"] == [runaway.pid]
    assert steps["kill"]["skipped"] and steps["gone"]["data"]["count"] == 0
    assert_on_timeline(controller, run)


BASELINE = "[mail]\n# where mail goes\nserver = mail.example.org\nport = 587\n"


def _broken_ini(base: Path, name: str) -> Path:
    path = base / "work" / name
    path.write_text(BASELINE)
    config = BASELINE.replace("server = mail.example.org", "server = wrong.example.org")
    path.write_text(config)
    return path


def _sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def test_broken_config_key_is_restored_byte_identical(
    controller: ControllerProcess, endpoint: str, base: Path
) -> None:
    path = _broken_ini(base, "app.ini")
    ticket = open_ticket(controller, "mail settings broken")
    inputs = {
        "path": str(path),
        "key": "mail.server",
        "value": "mail.example.org",
        "format": "ini",
        "baseline_sha256": _sha256(BASELINE),
    }
    run = play(controller, endpoint, "broken-config", inputs, ticket_id=ticket)
    assert run["state"] == "succeeded", run["summary"]
    assert path.read_text() == BASELINE
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["restore"]["evidence"]["before"]["value"] == "wrong.example.org"
    assert steps["after"]["data"]["sha256"] == _sha256(BASELINE)
    assert_on_timeline(controller, run)


def test_unfixable_config_is_rolled_back_and_escalated(
    controller: ControllerProcess, endpoint: str, base: Path
) -> None:
    path = _broken_ini(base, "other.ini")
    broken = path.read_text()
    ticket = open_ticket(controller, "config drift")
    inputs = {
        "path": str(path),
        "key": "mail.server",
        "value": "mail.example.org",
        "baseline_sha256": "0" * 64,  # a baseline the file can never reach
    }
    run = play(controller, endpoint, "broken-config", inputs, ticket_id=ticket)
    assert run["state"] == "escalated", run["summary"]
    assert path.read_text() == broken  # the edit was rolled back
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["restore"]["changed"] and not steps["after"]["ok"]
    assert steps["undo"]["phase"] == "rollback" and steps["undo"]["ok"]
    assert "does not match its baseline" in escalation(controller, ticket)
    assert_on_timeline(controller, run)


def test_dry_run_changes_nothing_and_prints_the_plan(
    controller: ControllerProcess, endpoint: str, base: Path
) -> None:
    path = _broken_ini(base, "dry.ini")
    broken = path.read_text()
    ticket = open_ticket(controller, "dry run")
    inputs = {"path": str(path), "key": "mail.server", "value": "mail.example.org"}
    run = play(controller, endpoint, "broken-config", inputs, ticket_id=ticket, dry_run=True)
    assert run["state"] == "succeeded", run["summary"]
    assert run["dry_run"] and path.read_text() == broken
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["restore"]["dry_run"] and not steps["restore"]["changed"]
    assert steps["after"]["state"] == "would_verify"
    summary = run["summary"]
    assert summary.startswith("playbook broken-config (dry run): succeeded")
    assert "[would change] action restore: config.set" in summary
    assert "+server = mail.example.org" in summary
    assert_on_timeline(controller, run)


def test_bad_requests_are_refused(controller: ControllerProcess, endpoint: str) -> None:
    with controller.client() as client:
        unknown = client.post("/playbook-runs", json={"playbook": "nope", "endpoint_id": endpoint})
        missing = client.post(
            "/playbook-runs", json={"playbook": "service-down", "endpoint_id": endpoint}
        )
        library = client.get("/playbooks")
    assert unknown.status_code == 422 and "playbook" in unknown.text
    assert missing.status_code == 422 and '"inputs","service"' in missing.text
    names = {p["name"] for p in library.json()}
    assert {"service-down", "disk-full-temp", "runaway-process", "broken-config"} <= names


def test_log_filling_disk_is_rotated(
    controller: ControllerProcess, endpoint: str, base: Path
) -> None:
    log = base / "work" / "app.log"
    log.write_bytes(b"line of log\n" * 50_000)
    ticket = open_ticket(controller, "log fills the disk")
    inputs = {"path": str(log), "max_bytes": 100_000, "keep": 2}
    run = play(controller, endpoint, "log-filling-disk", inputs, ticket_id=ticket)
    assert run["state"] == "succeeded", run["summary"]
    assert log.stat().st_size <= 100_000 and (base / "work" / "app.log.1").stat().st_size > 500_000
    assert_on_timeline(controller, run)


def test_browser_cache_is_emptied(controller: ControllerProcess, endpoint: str, base: Path) -> None:
    cache = base / "work" / "cache"
    (cache / "Cache_Data").mkdir(parents=True)
    for n in range(5):
        (cache / "Cache_Data" / f"f_{n:06d}").write_bytes(b"x" * 10_000)
    ticket = open_ticket(controller, "browser shows stale pages")
    run = play(
        controller, endpoint, "browser-cache-reset", {"cache_dir": str(cache)}, ticket_id=ticket
    )
    assert run["state"] == "succeeded", run["summary"]
    assert list(cache.iterdir()) == []
    assert_on_timeline(controller, run)


def _certificate(path: Path, days: int) -> None:
    cert, _ = self_signed(
        "intranet.example.org",
        not_before=datetime.timedelta(days=1),
        not_after=datetime.timedelta(days=days),
    )
    write_pem(path, cert)


def test_expiring_certificate_is_escalated(
    controller: ControllerProcess, endpoint: str, base: Path
) -> None:
    soon, later = base / "work" / "soon.pem", base / "work" / "later.pem"
    _certificate(soon, 5)
    _certificate(later, 300)
    fine = play(controller, endpoint, "expiring-certificate", {"path": str(later)})
    assert fine["state"] == "succeeded", fine["summary"]
    ticket = open_ticket(controller, "certificate warning")
    run = play(controller, endpoint, "expiring-certificate", {"path": str(soon)}, ticket_id=ticket)
    assert run["state"] == "escalated", run["summary"]
    escalations = [e for e in timeline(controller, ticket) if e["kind"] == "escalation"]
    assert (
        "expires in 4 days" in escalations[0]["body"]
        or "expires in 5 days" in escalations[0]["body"]
    )
    assert_on_timeline(controller, run)


def test_network_triage_escalates_to_network_with_findings(
    controller: ControllerProcess, endpoint: str
) -> None:
    with controller.client() as client:
        created = client.post("/teams", json={"name": "Network"})
        assert created.status_code in (201, 409), created.text
    ticket = open_ticket(controller, "no intranet")
    inputs = {"gateway": "127.0.0.1", "name": "localhost", "url": "http://127.0.0.1:9/"}
    run = play(controller, endpoint, "network-triage", inputs, ticket_id=ticket)
    assert run["state"] == "escalated", run["summary"]
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["gateway"]["ok"] and steps["dns"]["ok"] and not steps["http"]["ok"]
    body = next(e["body"] for e in timeline(controller, ticket) if e["kind"] == "escalation")
    assert "gateway 127.0.0.1 reachable" in body and "HTTP http://127.0.0.1:9/ FAILS" in body
    assert_on_timeline(controller, run)


def test_dns_resolver_healthy_path(controller: ControllerProcess, endpoint: str) -> None:
    run = play(controller, endpoint, "dns-resolver", {"name": "localhost"})
    assert run["state"] == "succeeded", run["summary"]
    assert [s["state"] for s in run["steps"]] == ["succeeded", "skipped", "succeeded"]


def test_slow_machine_gathers_diagnostics(
    controller: ControllerProcess, endpoint: str, base: Path
) -> None:
    ticket = open_ticket(controller, "slow")
    inputs = {"path": str(base / "work"), "max_cpu": 100_000}
    run = play(controller, endpoint, "slow-machine", inputs, ticket_id=ticket)
    assert run["state"] == "succeeded", run["summary"]
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["cpu"]["data"]["processes"] and steps["memory"]["data"]["processes"]
    assert steps["disk"]["data"]["path"] == str(base / "work")
    assert_on_timeline(controller, run)


MAIL_GOOD = (
    "[account]\nname = Help Desk\nserver = mail.example.org\nport = 587\n\n[view]\nthreads = true\n"
)


def _broken_mail_profile(base: Path, name: str) -> tuple[Path, Path, dict[str, Any]]:
    """A profile whose settings point at the wrong server and port, with a filled cache."""
    profile = base / "work" / name
    (profile / "cache" / "index").mkdir(parents=True)
    for n in range(4):
        (profile / "cache" / "index" / f"msg-{n}.db").write_bytes(b"\x00junk" * 2000)
    (profile / "cache" / "summary.msf").write_bytes(b"corrupt")
    settings = profile / "prefs.ini"
    settings.write_text(
        MAIL_GOOD.replace("mail.example.org", "oldmail.example.net").replace("587", "25")
    )
    inputs = {
        "profile_dir": str(profile),
        "settings_file": "prefs.ini",
        "server": "mail.example.org",
        "port": 587,
        "server_key": "account.server",
        "port_key": "account.port",
        "format": "ini",
    }
    return profile, settings, inputs


def _cache_files(profile: Path) -> list[Path]:
    return sorted(p for p in (profile / "cache").rglob("*") if p.is_file())


def test_mail_profile_is_reset(controller: ControllerProcess, endpoint: str, base: Path) -> None:
    profile, settings, inputs = _broken_mail_profile(base, "mail-profile")
    ticket = open_ticket(controller, "mail client cannot send")
    inputs["baseline_sha256"] = _sha256(MAIL_GOOD)
    run = play(controller, endpoint, "mail-profile-reset", inputs, ticket_id=ticket)
    assert run["state"] == "succeeded", run["summary"]
    assert settings.read_bytes() == MAIL_GOOD.encode()
    assert (profile / "cache").is_dir() and _cache_files(profile) == []
    steps = {s["id"]: s for s in run["steps"]}
    assert "oldmail.example.net" in steps["show"]["output"]
    assert steps["clear_cache"]["data"]["files"] == 5 and steps["cache"]["ok"]
    assert steps["set_server"]["evidence"]["before"]["value"] == "oldmail.example.net"
    assert steps["set_port"]["evidence"]["before"]["value"] == "25"
    assert steps["set_server"]["rollback"] and steps["set_port"]["rollback"]
    assert steps["values"]["ok"] and steps["read_after"]["ok"]
    assert steps["after"]["data"]["sha256"] == _sha256(MAIL_GOOD)
    assert_on_timeline(controller, run)


def test_mail_profile_unverified_is_rolled_back_and_escalated(
    controller: ControllerProcess, endpoint: str, base: Path
) -> None:
    _, settings, inputs = _broken_mail_profile(base, "mail-profile-bad")
    broken = settings.read_bytes()
    ticket = open_ticket(controller, "mail client still broken")
    inputs["baseline_sha256"] = "0" * 64  # a baseline the file can never reach
    run = play(controller, endpoint, "mail-profile-reset", inputs, ticket_id=ticket)
    assert run["state"] == "escalated", run["summary"]
    assert settings.read_bytes() == broken  # both edits rolled back, byte for byte
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["set_server"]["changed"] and steps["set_port"]["changed"]
    assert not steps["after"]["ok"]
    assert [s["id"] for s in run["steps"] if s["phase"] == "rollback"] == [
        "undo_port",
        "undo_server",
    ]
    assert steps["undo_port"]["ok"] and steps["undo_server"]["ok"]
    assert "could not be reset" in escalation(controller, ticket)
    assert_on_timeline(controller, run)


def test_mail_profile_dry_run_changes_nothing(
    controller: ControllerProcess, endpoint: str, base: Path
) -> None:
    profile, settings, inputs = _broken_mail_profile(base, "mail-profile-dry")
    broken, cached = settings.read_bytes(), _cache_files(profile)
    ticket = open_ticket(controller, "mail dry run")
    run = play(controller, endpoint, "mail-profile-reset", inputs, ticket_id=ticket, dry_run=True)
    assert run["state"] == "succeeded", run["summary"]
    assert run["dry_run"] and settings.read_bytes() == broken
    assert _cache_files(profile) == cached and len(cached) == 5
    steps = {s["id"]: s for s in run["steps"]}
    for step_id in ("clear_cache", "set_server", "set_port"):
        assert steps[step_id]["dry_run"] and not steps[step_id]["changed"]
    assert steps["clear_cache"]["data"]["files"] == 5
    assert steps["read_after"]["state"] == "would_verify"
    assert steps["after"]["state"] == "would_verify"
    summary = run["summary"]
    assert summary.startswith("playbook mail-profile-reset (dry run): succeeded")
    assert "[would change] action set_server: config.set" in summary
    assert "+server = mail.example.org" in summary and "+port = 587" in summary
    assert_on_timeline(controller, run)


SITE_BASELINE = (
    "# viewer settings, managed by the site\n"
    "[update]\n"
    "channel = stable\n"
    "auto = true\n"
    "\n"
    "[proxy]\n"
    "host = proxy.example.org\n"
)
SITE_INPUTS = {
    "format": "ini",
    "key1": "update.channel",
    "value1": "stable",
    "key2": "update.auto",
    "value2": "true",
    "key3": "proxy.host",
    "value3": "proxy.example.org",
}


def _drifted(base: Path, name: str) -> Path:
    path = base / "work" / name
    path.write_text(
        SITE_BASELINE.replace("stable", "nightly")
        .replace("auto = true", "auto = false")
        .replace("proxy.example.org", "127.0.0.1:3128")
    )
    return path


def test_site_baseline_is_restored_byte_identical(
    controller: ControllerProcess, endpoint: str, base: Path
) -> None:
    path = _drifted(base, "viewer.ini")
    ticket = open_ticket(controller, "viewer settings drifted")
    inputs = {"path": str(path), **SITE_INPUTS, "baseline_sha256": _sha256(SITE_BASELINE)}
    run = play(controller, endpoint, "site-baseline", inputs, ticket_id=ticket)
    assert run["state"] == "succeeded", run["summary"]
    assert path.read_bytes() == SITE_BASELINE.encode()
    steps = {s["id"]: s for s in run["steps"]}
    olds = [steps[f"set{n}"]["evidence"]["before"]["value"] for n in (1, 2, 3)]
    assert olds == ["nightly", "false", "127.0.0.1:3128"]
    assert all(steps[f"set{n}"]["changed"] and steps[f"set{n}"]["rollback"] for n in (1, 2, 3))
    assert steps["values"]["ok"] and steps["after"]["data"]["sha256"] == _sha256(SITE_BASELINE)
    assert_on_timeline(controller, run)


def test_site_baseline_unverified_is_rolled_back_and_escalated(
    controller: ControllerProcess, endpoint: str, base: Path
) -> None:
    path = _drifted(base, "viewer-bad.ini")
    drifted = path.read_bytes()
    ticket = open_ticket(controller, "viewer settings drift again")
    inputs = {
        "path": str(path),
        **{k: v for k, v in SITE_INPUTS.items() if not k.endswith("3")},  # key3 unset
        "baseline_sha256": "0" * 64,  # a baseline the file can never reach
    }
    run = play(controller, endpoint, "site-baseline", inputs, ticket_id=ticket)
    assert run["state"] == "escalated", run["summary"]
    assert path.read_bytes() == drifted  # every edit rolled back, byte for byte
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["set1"]["changed"] and steps["set2"]["changed"] and steps["set3"]["skipped"]
    assert steps["values"]["ok"] and not steps["after"]["ok"]
    assert steps["undo3"]["skipped"] and steps["undo2"]["ok"] and steps["undo1"]["ok"]
    escalations = [e for e in timeline(controller, ticket) if e["kind"] == "escalation"]
    assert len(escalations) == 1 and "(update.channel, update.auto)" in escalations[0]["body"]
    assert_on_timeline(controller, run)


def test_site_baseline_dry_run_changes_nothing(
    controller: ControllerProcess, endpoint: str, base: Path
) -> None:
    path = _drifted(base, "viewer-dry.ini")
    drifted = path.read_bytes()
    ticket = open_ticket(controller, "site baseline dry run")
    inputs = {"path": str(path), **SITE_INPUTS}
    run = play(controller, endpoint, "site-baseline", inputs, ticket_id=ticket, dry_run=True)
    assert run["state"] == "succeeded", run["summary"]
    assert run["dry_run"] and path.read_bytes() == drifted
    steps = {s["id"]: s for s in run["steps"]}
    for n in (1, 2, 3):
        assert steps[f"set{n}"]["dry_run"] and not steps[f"set{n}"]["changed"]
    assert steps["after"]["state"] == "would_verify"
    summary = run["summary"]
    assert summary.startswith("playbook site-baseline (dry run): succeeded")
    for n in (1, 2, 3):
        assert f"[would change] action set{n}: config.set" in summary
    assert "+channel = stable" in summary and "+host = proxy.example.org" in summary
    assert_on_timeline(controller, run)


THROWAWAY = "ds-pb-locked"


def _password_field(user: str) -> str:
    line = next(
        row for row in Path("/etc/shadow").read_text().splitlines() if row.startswith(f"{user}:")
    )
    return line.split(":")[1]


@pytest.fixture
def locked_account() -> Iterator[str]:
    require_or_skip(None if os.geteuid() == 0 else "creating a local account needs root")
    require_or_skip(None if shutil.which("useradd") else "useradd (passwd package) is missing")
    subprocess.run(["userdel", "-f", THROWAWAY], capture_output=True)
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", THROWAWAY], check=True
    )
    subprocess.run(["chpasswd"], input=f"{THROWAWAY}:a passphrase\n", text=True, check=True)
    subprocess.run(["usermod", "--lock", THROWAWAY], check=True)  # the fault, for real
    try:
        yield THROWAWAY
    finally:
        subprocess.run(["userdel", "-f", THROWAWAY], capture_output=True)


def test_a_locked_account_is_unlocked(
    controller: ControllerProcess, endpoint: str, locked_account: str
) -> None:
    assert _password_field(locked_account).startswith("!")
    ticket = open_ticket(controller, "cannot log in")
    run = play(
        controller, endpoint, "account-locked", {"username": locked_account}, ticket_id=ticket
    )
    assert run["state"] == "succeeded", run["summary"]
    assert not _password_field(locked_account).startswith("!"), "unlocked for real"
    (unlock,) = run["steps"]
    assert unlock["changed"] and unlock["evidence"]["before"]["password_status"] == "locked"
    assert unlock["evidence"]["after"]["password_status"] == "usable"
    assert_on_timeline(controller, run)


# -- the loop: health checks that open tickets and fix them ---------------------------------


def _check(controller: ControllerProcess, endpoint_id: str, service: str, **extra: Any) -> int:
    body = {
        "name": f"{service} runs ({uuid.uuid4().hex[:6]})",
        "check": "service.running",
        "params": {"name": service},
        "endpoint_ids": [endpoint_id],
        "interval_s": 1,
        "playbook": "service-down",
        "playbook_inputs": {"service": service},
        "cooldown_s": 0,
        **extra,
    }
    with controller.client() as client:
        created = client.post("/checks", json=body)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _delete_check(controller: ControllerProcess, check_id: int) -> None:
    with controller.client() as client:
        assert client.delete(f"/checks/{check_id}").status_code == 204


def _monitoring_tickets(
    controller: ControllerProcess, endpoint_id: str, check_id: int
) -> list[dict[str, Any]]:
    with controller.client() as client:
        listed = client.get("/tickets", params={"endpoint_id": endpoint_id, "limit": 500})
        name = client.get(f"/checks/{check_id}").json()["name"]
    assert listed.status_code == 200, listed.text
    return [
        t for t in listed.json()["items"] if t["channel"] == "monitoring" and name in t["title"]
    ]


def _results(controller: ControllerProcess, check_id: int) -> list[dict[str, Any]]:
    with controller.client() as client:
        response = client.get(f"/checks/{check_id}/results", params={"limit": 500})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_a_stopped_daemon_is_found_fixed_verified_and_its_ticket_resolved(
    controller: ControllerProcess, endpoint: str, daemon: str
) -> None:
    check_id = _check(controller, endpoint, DAEMON)
    with HookReceiver() as receiver:
        with controller.client() as client:
            created = {"url": receiver.url, "events": ["ticket.created"]}
            hook = client.post("/webhooks", json=created)
        assert hook.status_code == 201, hook.text
        try:
            wait_for(
                lambda: any(r["status"] == "ok" for r in _results(controller, check_id)),
                60,
                "the check sees the daemon running",
            )
            old = _pid()
            subprocess.run(["service", DAEMON, "stop"], check=True)  # the fault, for real

            def resolved() -> list[dict[str, Any]]:
                found = _monitoring_tickets(controller, endpoint, check_id)
                return [t for t in found if t["state"] == "resolved"]

            (ticket,) = wait_for(resolved, 120, "the loop's ticket resolved")
            assert _running() and _pid() != old, "restarted for real"
            assert "verified by check result" in ticket["resolution"]
            entries = timeline(controller, ticket["id"])
            checks = [e for e in entries if e["kind"] == "check"]
            assert checks[0]["data"]["status"] == "fail" and checks[-1]["data"]["status"] == "ok"
            correlation = checks[0]["data"]["correlation_id"]
            runs = [e for e in entries if e["kind"] == "run"]
            assert runs and any(e["data"]["action"] == "service.restart" for e in runs)
            assert [e["data"]["event"] for e in entries if e["kind"] == "playbook"] == [
                "started",
                "finished",
            ]
            with controller.client() as client:
                (run,) = client.get("/playbook-runs", params={"ticket_id": ticket["id"]}).json()[
                    "items"
                ]
            assert run["state"] == "succeeded" and run["correlation_id"] == correlation
            assert correlation.startswith("check-"), "the check result's id follows the fix"
            restart = next(e for e in runs if e["data"]["action"] == "service.restart")
            with controller.client() as client:
                asked = client.get(f"/runs/{restart['run_id']}").json()
            assert asked["request_id"] == correlation
            # ... and the notifications: the webhook call about the ticket names it too.
            (call,) = wait_for(
                lambda: [
                    h
                    for h in receiver.received()
                    if json.loads(h.body)["ticket_id"] == ticket["id"]
                ],
                30,
                "the webhook call about the loop's ticket",
            )
            assert call.headers["X-Deskside-Correlation-Id"] == correlation
            assert json.loads(call.body)["correlation_id"] == correlation
        finally:
            _delete_check(controller, check_id)
            with controller.client() as client:
                client.delete(f"/webhooks/{hook.json()['id']}")


def test_an_unfixable_fault_is_handed_over_once_not_looped(
    controller: ControllerProcess, endpoint: str
) -> None:
    check_id = _check(controller, endpoint, "deskside-no-such-service")
    try:
        (ticket,) = wait_for(
            lambda: [
                t
                for t in _monitoring_tickets(controller, endpoint, check_id)
                if t["escalation_level"] >= 0 and t["team_id"] is not None
            ],
            120,
            "the loop's ticket, handed to the playbook's team",
        )
        # Keep failing for a while: the loop must not try again.
        seen = len(_results(controller, check_id))
        wait_for(lambda: len(_results(controller, check_id)) >= seen + 4, 60, "more results")
        with controller.client() as client:
            runs = client.get("/playbook-runs", params={"ticket_id": ticket["id"]}).json()
            incidents = client.get("/incidents").json()
        assert [r["state"] for r in runs["items"]] == ["escalated"]
        (incident,) = [i for i in incidents if i["check_id"] == check_id]
        assert incident["escalated"] and incident["fixes_in_window"] == 1
    finally:
        _delete_check(controller, check_id)


def test_a_maintenance_window_holds_tickets_and_fixes(
    controller: ControllerProcess, endpoint: str
) -> None:
    now = datetime.datetime.now(datetime.UTC)
    with controller.client() as client:
        window = client.post(
            "/maintenance-windows",
            json={
                "endpoint_id": endpoint,
                "starts_at": (now - datetime.timedelta(minutes=1)).isoformat(),
                "ends_at": (now + datetime.timedelta(hours=1)).isoformat(),
                "reason": "replacing the disk",
            },
        )
    assert window.status_code == 201, window.text
    check_id = _check(controller, endpoint, "deskside-held-service")
    try:
        wait_for(
            lambda: sum(r["status"] == "fail" for r in _results(controller, check_id)) >= 3,
            60,
            "failing results recorded during the window",
        )
        assert _monitoring_tickets(controller, endpoint, check_id) == []
        with controller.client() as client:
            runs = client.get("/playbook-runs", params={"endpoint_id": endpoint}).json()
        assert not [
            r for r in runs["items"] if r["inputs"].get("service") == "deskside-held-service"
        ]
    finally:
        _delete_check(controller, check_id)
        with controller.client() as client:
            client.delete(f"/maintenance-windows/{window.json()['id']}")


def _latest_ok(controller: ControllerProcess, check_id: int) -> bool:
    results = _results(controller, check_id)  # newest first
    return bool(results) and results[0]["status"] == "ok"


def test_a_flapping_daemon_stops_being_restarted_after_the_limit(
    controller: ControllerProcess, endpoint: str, daemon: str
) -> None:
    check_id = _check(controller, endpoint, DAEMON, max_fixes=2)
    try:
        for fix in (1, 2):
            wait_for(_running, 60, f"the daemon running before fault {fix}")
            wait_for(
                lambda: _latest_ok(controller, check_id), 60, f"the check ok before fault {fix}"
            )
            subprocess.run(["service", DAEMON, "stop"], check=True)
            wait_for(_running, 60, f"restarted by fix {fix}")
        wait_for(lambda: _results(controller, check_id)[0]["status"] == "ok", 60, "ok after fix 2")
        subprocess.run(["service", DAEMON, "stop"], check=True)  # the third fault in the hour

        def handed_over() -> list[dict[str, Any]]:
            with controller.client() as client:
                found = client.get("/incidents").json()
            return [i for i in found if i["check_id"] == check_id and i["escalated"]]

        (incident,) = wait_for(handed_over, 60, "the third fault handed to a person")
        seen = len(_results(controller, check_id))
        wait_for(lambda: len(_results(controller, check_id)) >= seen + 3, 30, "more results")
        assert not _running(), "no third restart: the loop stopped fixing"
        assert incident["fixes_in_window"] == 2 and incident["ticket_id"] is not None
        with controller.client() as client:
            ticket = client.get(f"/tickets/{incident['ticket_id']}").json()
        assert ticket["escalation_level"] >= 1 and ticket["state"] in ("new", "assigned")
    finally:
        _delete_check(controller, check_id)
        subprocess.run(["service", DAEMON, "start"], check=False)
