"""hosts.set on a hosts file in tmp_path, dns.flush on this machine, print.clear_queue."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

import catalogue
from agent.actions import system_config
from agent.actions.context import ActionContext
from agent.actions.system_config import ACTIONS, flush_commands, parse_lpstat_jobs
from catalogue import ActionResult

RECORDED = Path(__file__).resolve().parents[1] / "recorded" / "linux" / "actions"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")


def run(name: str, params: dict[str, Any], dry_run: bool = False) -> ActionResult:
    return ACTIONS[name](catalogue.validate(name, params), ActionContext(dry_run=dry_run))


# --- hosts.set ----------------------------------------------------------------------------

HOSTS = (
    b"# /etc/hosts: static lookup table\n"
    b"127.0.0.1\tlocalhost\n"
    b"::1     localhost ip6-localhost ip6-loopback\n"
    b"\n"
    b"# wiki moved to 10.0.0.7 in May\n"
    b"10.0.0.5   intranet intranet.corp wiki   # office server\n"
    b"192.168.1.9 printer  # 2nd floor\n"
    b"#10.9.9.9 oldhost\n"
)


@pytest.fixture
def hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "etc" / "hosts"
    path.parent.mkdir()
    path.write_bytes(HOSTS)
    os.chmod(path, 0o644)
    monkeypatch.setattr(system_config, "HOSTS_FILE", str(path))
    return path


def set_host(hostname: str, address: str | None, dry_run: bool = False) -> ActionResult:
    return run("hosts.set", {"hostname": hostname, "address": address}, dry_run=dry_run)


def test_adding_a_name_appends_one_line_and_keeps_the_rest(hosts: Path) -> None:
    result = set_host("newhost.corp", "10.1.1.1")
    assert result.ok and result.changed
    assert hosts.read_bytes() == HOSTS + b"10.1.1.1\tnewhost.corp\n"
    assert result.evidence.before == []
    assert result.evidence.after == ["10.1.1.1\tnewhost.corp"]
    assert "+10.1.1.1\tnewhost.corp" in result.output


def test_changing_a_single_name_line_rewrites_it_in_place(hosts: Path) -> None:
    result = set_host("printer", "192.168.1.10")
    assert result.changed
    assert hosts.read_bytes() == HOSTS.replace(
        b"192.168.1.9 printer  # 2nd floor", b"192.168.1.10 printer  # 2nd floor"
    )
    assert result.evidence.before == ["192.168.1.9 printer  # 2nd floor"]
    assert result.evidence.after == ["192.168.1.10 printer  # 2nd floor"]


def test_removing_one_name_of_several_keeps_the_others(hosts: Path) -> None:
    result = set_host("wiki", None)
    assert result.changed
    assert hosts.read_bytes() == HOSTS.replace(
        b"10.0.0.5   intranet intranet.corp wiki   # office server",
        b"10.0.0.5   intranet intranet.corp   # office server",
    )
    assert result.evidence.after == []


def test_moving_one_name_of_several_to_another_address(hosts: Path) -> None:
    set_host("WIKI", "10.0.0.7")  # names are case-insensitive
    assert hosts.read_bytes() == (
        HOSTS.replace(b"intranet.corp wiki   #", b"intranet.corp   #") + b"10.0.0.7\tWIKI\n"
    )


def test_names_match_whatever_their_case(hosts: Path) -> None:
    hosts.write_bytes(HOSTS + b"10.0.0.8 Files.Corp\n")
    assert set_host("files.corp", None).changed
    assert hosts.read_bytes() == HOSTS


def test_removing_the_only_name_drops_the_line(hosts: Path) -> None:
    set_host("printer", None)
    assert hosts.read_bytes() == HOSTS.replace(b"192.168.1.9 printer  # 2nd floor\n", b"")


def test_a_name_on_two_lines_ends_on_the_right_one(hosts: Path) -> None:
    hosts.write_bytes(HOSTS + b"10.0.0.9 intranet\n")
    set_host("intranet", "10.0.0.5")
    assert hosts.read_bytes() == HOSTS


def test_nothing_to_do_changes_nothing(hosts: Path) -> None:
    before = os.stat(hosts)
    for hostname, address in [("intranet", "10.0.0.5"), ("oldhost", None), ("nobody", None)]:
        result = set_host(hostname, address)
        assert result.ok and not result.changed, hostname
    assert hosts.read_bytes() == HOSTS
    assert os.stat(hosts).st_ino == before.st_ino


def test_dry_run_shows_the_diff_and_writes_nothing(hosts: Path) -> None:
    before = os.stat(hosts)
    result = set_host("printer", "192.168.1.10", dry_run=True)
    assert result.ok and not result.changed
    assert hosts.read_bytes() == HOSTS
    assert os.stat(hosts).st_ino == before.st_ino
    assert "-192.168.1.9 printer  # 2nd floor" in result.output
    assert "+192.168.1.10 printer  # 2nd floor" in result.output
    assert result.data["diff"].startswith(f"--- {hosts}")


@posix_only
def test_the_write_replaces_the_file_keeping_its_mode(hosts: Path) -> None:
    os.chmod(hosts, 0o604)
    inode = os.stat(hosts).st_ino
    set_host("newhost", "10.1.1.1")
    assert stat.S_IMODE(os.stat(hosts).st_mode) == 0o604
    assert os.stat(hosts).st_ino != inode  # a new file renamed over the old one
    assert os.listdir(hosts.parent) == ["hosts"]  # no temporary file left behind


@posix_only
def test_a_linked_hosts_file_stays_a_link(hosts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    link = hosts.parent / "hosts-link"
    link.symlink_to(hosts)
    monkeypatch.setattr(system_config, "HOSTS_FILE", str(link))
    set_host("newhost", "10.1.1.1")
    assert link.is_symlink()
    assert hosts.read_bytes().endswith(b"10.1.1.1\tnewhost\n")


def test_crlf_files_and_missing_final_newline(hosts: Path) -> None:
    hosts.write_bytes(b"127.0.0.1 localhost\r\n10.0.0.5 intranet")
    set_host("newhost", "2001:db8::1")
    assert hosts.read_bytes() == (
        b"127.0.0.1 localhost\r\n10.0.0.5 intranet\r\n2001:db8::1\tnewhost\r\n"
    )


def test_a_missing_hosts_file_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hosts"
    monkeypatch.setattr(system_config, "HOSTS_FILE", str(path))
    assert set_host("newhost", "10.1.1.1").changed
    assert path.read_bytes() == b"10.1.1.1\tnewhost\n"


def test_names_and_addresses_keep_their_roles(hosts: Path) -> None:
    bad_address = set_host("newhost", "server.corp")
    assert bad_address.error is not None and bad_address.error.code == "invalid_params"
    bad_name = set_host("10.0.0.1", "10.0.0.2")
    assert bad_name.error is not None and bad_name.error.code == "invalid_params"
    assert hosts.read_bytes() == HOSTS


# --- dns.flush ----------------------------------------------------------------------------


def fake_which(present: set[str]) -> Any:
    return lambda name: f"/usr/bin/{name}" if name in present else None


def fake_running(present: set[str]) -> Any:
    return lambda name: name in present


def test_flush_commands_per_platform() -> None:
    nothing = fake_which(set()), fake_running(set())
    assert flush_commands("linux", *nothing) == []
    resolved = fake_which({"resolvectl"}), fake_running({"systemd-resolved"})
    assert flush_commands("linux", *resolved) == [["resolvectl", "flush-caches"]]
    installed_not_running = fake_which({"resolvectl", "nscd"}), fake_running(set())
    assert flush_commands("linux", *installed_not_running) == []
    both = fake_which({"resolvectl", "nscd"}), fake_running({"systemd-resolved", "nscd"})
    assert flush_commands("linux", *both) == [
        ["resolvectl", "flush-caches"],
        ["nscd", "-i", "hosts"],
    ]
    old_systemd = fake_which({"systemd-resolve"}), fake_running({"systemd-resolved"})
    assert flush_commands("linux", *old_systemd) == [["systemd-resolve", "--flush-caches"]]
    assert flush_commands("darwin", *nothing) == [
        ["dscacheutil", "-flushcache"],
        ["killall", "-HUP", "mDNSResponder"],
    ]
    assert flush_commands("win32", *nothing) == [["ipconfig", "/flushdns"]]


def _process_names() -> set[str]:
    """Process names read straight from /proc, independently of the code under test."""
    names = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            names.add(Path(f"/proc/{pid}/comm").read_text().strip())
        except OSError:
            continue
    return names


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="live Linux check")
@pytest.mark.parametrize("dry_run", [True, False])
def test_dns_flush_on_this_machine(dry_run: bool) -> None:
    running = _process_names()
    has_cache = ("systemd-resolve" in running and bool(shutil.which("resolvectl"))) or (
        "nscd" in running and bool(shutil.which("nscd"))
    )
    result = run("dns.flush", {}, dry_run=dry_run)
    if not has_cache:
        assert result.error is not None
        assert result.error.code == "not_supported"
        assert result.error.message == "no resolver cache found on this machine"
        assert not result.changed
    elif dry_run:
        assert result.ok and not result.changed and result.output.startswith("would run: ")
    else:
        assert result.ok or (result.error is not None and result.error.code == "failed")


# --- print.clear_queue --------------------------------------------------------------------


def test_lpstat_parser_on_the_recording() -> None:
    jobs = parse_lpstat_jobs((RECORDED / "lpstat_o.txt").read_text())
    assert [j["id"] for j in jobs] == [
        "HP_LaserJet_M404-117",
        "HP_LaserJet_M404-118",
        "HP_LaserJet_M404-121",
        "Brother-HL-L2350DW-42",
        "Reception_Colour_2nd_Floor-1203",
        "Reception_Colour_2nd_Floor-1204",
    ]
    brother = jobs[3]
    assert brother == {
        "id": "Brother-HL-L2350DW-42",
        "queue": "Brother-HL-L2350DW",
        "number": 42,
        "user": "carol.whitfield-admin",
        "size": 2097152,
        "submitted": "Tue Mar 12 10:02:17 2024",
    }
    assert jobs[0]["size"] == 1245184 and jobs[0]["user"] == "alice"
    assert jobs[5]["queue"] == "Reception_Colour_2nd_Floor" and jobs[5]["number"] == 1204


def test_lpstat_parser_ignores_what_is_not_a_job() -> None:
    text = (
        "lpstat: Scheduler is not running.\n"
        "\tqueued for HP_LaserJet_M404\n"
        "-evil-3  mallory  1024   Tue Mar 12 10:02:17 2024\n"
        "HP-7 bob 1024   Tue Mar 12 10:02:17 2024\n"
        "\n"
    )
    assert [j["id"] for j in parse_lpstat_jobs(text)] == ["HP-7"]


@pytest.fixture
def fake_cups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """lpstat and cancel stand-ins: lpstat shows the recording until cancel has run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "lpstat").write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{tmp_path}/lpstat.args"\n'
        'if [ "$2" = "nope" ]; then\n'
        '  echo "lpstat: Invalid destination name in list \\"nope\\"." >&2; exit 1\n'
        "fi\n"
        f'[ -e "{tmp_path}/cancelled" ] && exec cat "{tmp_path}/left"\n'
        f'exec cat "{RECORDED}/lpstat_o.txt"\n'
    )
    (bin_dir / "cancel").write_text(
        f'#!/bin/sh\necho "$@" >> "{tmp_path}/cancel.args"\ntouch "{tmp_path}/cancelled"\n'
    )
    (tmp_path / "left").write_text("")
    for tool in ("lpstat", "cancel"):
        os.chmod(bin_dir / tool, 0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


@posix_only
def test_clear_queue_dry_run_lists_jobs_and_cancels_nothing(fake_cups: Path) -> None:
    result = run("print.clear_queue", {}, dry_run=True)
    assert result.ok and not result.changed
    assert len(result.data["jobs"]) == 6
    assert "HP_LaserJet_M404-117" in result.output
    assert not (fake_cups / "cancel.args").exists()


@posix_only
def test_clear_queue_cancels_exactly_the_listed_jobs(fake_cups: Path) -> None:
    result = run("print.clear_queue", {"printer": "HP_LaserJet_M404"})
    assert result.ok and result.changed
    assert (fake_cups / "lpstat.args").read_text().splitlines()[0] == "-o HP_LaserJet_M404"
    cancelled = (fake_cups / "cancel.args").read_text().split()
    assert cancelled[0] == "HP_LaserJet_M404-117" and len(cancelled) == 6
    assert result.evidence.before == cancelled
    assert result.evidence.after == []


@posix_only
def test_clear_queue_reports_jobs_that_stay(fake_cups: Path) -> None:
    (fake_cups / "left").write_text("HP_LaserJet_M404-118    bob  53248   Tue Mar 12 2024\n")
    result = run("print.clear_queue", {})
    assert result.error is not None and result.error.code == "failed"
    assert result.error.message.startswith("1 of 6 jobs still queued")
    assert result.changed


@posix_only
def test_clear_queue_unknown_printer(fake_cups: Path) -> None:
    result = run("print.clear_queue", {"printer": "nope"})
    assert result.error is not None and result.error.code == "not_found"


def test_clear_queue_without_cups(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to find there
    result = run("print.clear_queue", {})
    assert result.error is not None and result.error.code == "not_supported"
