"""The service wrappers shipped in agent/service/, run for real.

The SysV init script starts, checks, restarts and stops a real agent through Debian's
start-stop-daemon against a real controller (SQLite), every path in a temporary
directory. The systemd unit is read as an INI file and, where systemd-analyze is
installed, verified by it (systemd need not be running).
"""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import fresh_database, require_or_skip
from processes import BIN, AgentProcess, ControllerProcess, wait_for

import agent

SERVICE_DIR = Path(agent.__file__).resolve().parent / "service"
INIT_SCRIPT = SERVICE_DIR / "deskside-agent.init"
UNIT_FILE = SERVICE_DIR / "deskside-agent.service"

# LSB init script status codes.
RUNNING, DEAD_WITH_PIDFILE, NOT_RUNNING = 0, 1, 3


def _require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    require_or_skip(None if path else f"{name} not found (Debian package {package!r})")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerProcess]:
    directory = tmp_path_factory.mktemp("controller")
    with fresh_database("sqlite", directory) as url:
        process = ControllerProcess(directory, url).start()
        yield process
        assert process.stop() == 0, process.log()


@pytest.fixture(scope="module")
def enrolled(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """An enrolled state directory, and its endpoint's id."""
    state_dir = tmp_path_factory.mktemp("agent") / "state"
    endpoint_id = AgentProcess(state_dir).enroll(controller, controller.enrollment_token())
    return state_dir, endpoint_id


class InitScript:
    """`deskside-agent.init ACTION` with its pid file, log and defaults file in one dir."""

    def __init__(self, directory: Path, state_dir: Path, daemon: Path) -> None:
        _require_tool("start-stop-daemon", "dpkg")
        directory.mkdir(parents=True, exist_ok=True)
        self.pidfile = directory / "deskside-agent.pid"
        self.logfile = directory / "deskside-agent.log"
        self.defaults = directory / "default"
        # Plain shell assignments, as in /etc/default: the script must export them.
        self.defaults.write_text("DESKSIDE_AGENT_LOG_LEVEL=debug\nDESKSIDE_AGENT_MAX_BACKOFF_S=1\n")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "DEFAULTS_FILE": str(self.defaults),
            "DAEMON": str(daemon),
            "PIDFILE": str(self.pidfile),
            "LOGFILE": str(self.logfile),
            "DESKSIDE_AGENT_DIR": str(state_dir),
        }

    def __call__(self, action: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/bin/sh", str(INIT_SCRIPT), action],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_text().rstrip("\0").split("\0")


def _online(controller: ControllerProcess, endpoint_id: str) -> bool:
    return bool(controller.endpoint(endpoint_id)["online"])


@pytest.fixture
def service(enrolled: tuple[Path, str], tmp_path: Path) -> Iterator[InitScript]:
    script = InitScript(tmp_path / "service", enrolled[0], BIN / "deskside-agent")
    yield script
    stopped = script("stop")
    assert stopped.returncode == 0, stopped.stderr


def _start(service: InitScript) -> int:
    started = service("start")
    assert started.returncode == 0, f"{started.stdout}{started.stderr}\n{service.log()}"
    pid = service.pid()
    assert _alive(pid)
    return pid


def test_start_runs_the_agent_and_stop_ends_it_gracefully(
    service: InitScript, controller: ControllerProcess, enrolled: tuple[Path, str]
) -> None:
    _, endpoint_id = enrolled
    pid = _start(service)
    assert _cmdline(pid)[-2:] == [str(BIN / "deskside-agent"), "run"]
    wait_for(lambda: _online(controller, endpoint_id), 30, "endpoint online")
    status = service("status")
    assert status.returncode == RUNNING, status
    assert f"running (pid {pid})" in status.stdout
    # stderr reaches the log file, at the level the defaults file asked for.
    wait_for(lambda: " DEBUG " in service.log(), 10, "debug lines in the log file")
    assert f"for endpoint {endpoint_id}" in service.log()

    again = service("start")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert service.pid() == pid

    stopped = service("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not _alive(pid)
    assert not service.pidfile.exists()
    # SIGTERM, not SIGKILL: the agent logged its own orderly stop.
    assert service.log().rstrip().endswith("agent: stopped"), service.log()[-2000:]
    status = service("status")
    assert status.returncode == NOT_RUNNING, status
    assert "not running" in status.stdout
    wait_for(lambda: not _online(controller, endpoint_id), 30, "endpoint offline")

    # Stopping what is not running succeeds and changes nothing (LSB).
    assert service("stop").returncode == 0


def test_restart_and_force_reload_replace_the_agent(
    service: InitScript, controller: ControllerProcess, enrolled: tuple[Path, str]
) -> None:
    _, endpoint_id = enrolled
    # From stopped, restart starts it.
    restarted = service("restart")
    assert restarted.returncode == 0, f"{restarted.stderr}\n{service.log()}"
    first = service.pid()
    wait_for(lambda: _online(controller, endpoint_id), 30, "endpoint online")

    restarted = service("restart")
    assert restarted.returncode == 0, f"{restarted.stderr}\n{service.log()}"
    second = service.pid()
    assert second != first
    assert not _alive(first)
    assert _alive(second)
    wait_for(lambda: _online(controller, endpoint_id), 30, "endpoint online after restart")

    reloaded = service("force-reload")
    assert reloaded.returncode == 0, f"{reloaded.stderr}\n{service.log()}"
    third = service.pid()
    assert third != second
    assert not _alive(second)
    assert service("status").returncode == RUNNING
    wait_for(lambda: _online(controller, endpoint_id), 30, "endpoint online after force-reload")
    assert service.log().count("agent: stopped") == 2


def test_a_stale_pid_file_is_reported_then_replaced(service: InitScript) -> None:
    # A pid that belonged to a process that has exited: like an agent killed with -9.
    probe = subprocess.Popen(["sleep", "0"])
    probe.wait()
    service.pidfile.write_text(f"{probe.pid}\n")
    status = service("status")
    assert status.returncode == DEAD_WITH_PIDFILE, status
    assert f"not running but {service.pidfile} exists" in status.stdout

    pid = _start(service)
    assert pid != probe.pid
    assert service("status").returncode == RUNNING


def test_a_pid_file_naming_another_program_is_not_the_agent(service: InitScript) -> None:
    other = subprocess.Popen(["sleep", "60"])
    try:
        service.pidfile.write_text(f"{other.pid}\n")
        assert service("status").returncode == DEAD_WITH_PIDFILE
        assert service("stop").returncode == 0
        assert other.poll() is None, "stop killed a process that is not the agent"
    finally:
        other.kill()
        other.wait()


def test_an_exited_but_unreaped_agent_counts_as_stopped(service: InitScript) -> None:
    # An agent that exited (a bad setting) and whose parent, this test, has not reaped
    # it: a zombie named deskside-agent, as left behind where init does not reap.
    env = {**os.environ, "DESKSIDE_AGENT_LOG_LEVEL": "chatty"}
    zombie = subprocess.Popen(
        [str(BIN / "deskside-agent"), "run"], env=env, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: not _alive(zombie.pid), 10, "the agent to exit")
        assert Path(f"/proc/{zombie.pid}/comm").read_text().strip() == "deskside-agent"
        service.pidfile.write_text(f"{zombie.pid}\n")
        assert service("status").returncode == DEAD_WITH_PIDFILE
        stopped = service("stop", timeout=10)
        assert stopped.returncode == 0, stopped
        assert not service.pidfile.exists()
    finally:
        zombie.wait()


def test_start_refuses_an_unenrolled_machine(tmp_path: Path) -> None:
    script = InitScript(tmp_path / "service", tmp_path / "empty-state", BIN / "deskside-agent")
    started = script("start")
    assert started.returncode == 6, started
    assert "not enrolled" in started.stderr
    assert "deskside-agent enroll" in started.stderr
    assert not script.pidfile.exists()
    assert script("status").returncode == NOT_RUNNING


def test_start_refuses_a_missing_program(enrolled: tuple[Path, str], tmp_path: Path) -> None:
    script = InitScript(tmp_path / "service", enrolled[0], tmp_path / "no" / "deskside-agent")
    started = script("start")
    assert started.returncode == 5, started
    assert "not installed" in started.stderr
    assert not script.pidfile.exists()


def test_a_bad_setting_fails_the_start_and_points_at_the_log(
    enrolled: tuple[Path, str], tmp_path: Path
) -> None:
    script = InitScript(tmp_path / "service", enrolled[0], BIN / "deskside-agent")
    script.defaults.write_text("DESKSIDE_AGENT_LOG_LEVEL=chatty\n")
    started = script("start")
    assert started.returncode == 1, started
    assert str(script.logfile) in started.stderr
    assert "DESKSIDE_AGENT_LOG_LEVEL" in script.log()
    assert not script.pidfile.exists()


def test_unknown_actions_print_the_usage(tmp_path: Path) -> None:
    script = InitScript(tmp_path / "service", tmp_path / "state", BIN / "deskside-agent")
    for action in ("reload", "bogus"):
        result = script(action)
        assert result.returncode == 3, result
        assert "start|stop|restart|force-reload|status" in result.stderr


def test_init_script_has_an_lsb_header_and_passes_shell_checks() -> None:
    text = INIT_SCRIPT.read_text()
    assert text.startswith("#!/bin/sh\n")
    header = text.split("### BEGIN INIT INFO\n", 1)[1].split("### END INIT INFO", 1)[0]
    fields = dict(
        line[2:].split(":", 1) for line in header.splitlines() if not line.startswith("#    ")
    )
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    assert fields["Provides"] == "deskside-agent"
    assert fields["Default-Start"] == "2 3 4 5"
    assert fields["Default-Stop"] == "0 1 6"
    assert "$network" in fields["Required-Start"]
    assert os.access(INIT_SCRIPT, os.X_OK), "the init script should be executable"
    syntax = subprocess.run(["sh", "-n", str(INIT_SCRIPT)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    shellcheck = _require_tool("shellcheck", "shellcheck")
    checked = subprocess.run(
        [shellcheck, "--shell=sh", str(INIT_SCRIPT)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout


def _unit_entries(path: Path) -> dict[str, dict[str, list[str]]]:
    """Every value of every key, per section (systemd keys may repeat, INI-style)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)  # raises on anything that is not INI
    assert parser.sections() == ["Unit", "Service", "Install"]
    entries: dict[str, dict[str, list[str]]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            entries[section] = {}
            continue
        key, _, value = line.partition("=")
        entries[section].setdefault(key.strip(), []).append(value.strip())
    return entries


def test_systemd_unit_has_the_required_settings() -> None:
    unit = _unit_entries(UNIT_FILE)
    first = {s: {k: v[0] for k, v in keys.items()} for s, keys in unit.items()}
    assert first["Unit"]["Description"]
    assert "network-online.target" in first["Unit"]["After"].split()
    assert "network-online.target" in first["Unit"]["Wants"].split()

    service = first["Service"]
    assert service["Type"] in ("exec", "simple")
    command = shlex.split(service["ExecStart"])
    assert Path(command[0]).is_absolute()
    assert Path(command[0]).name == "deskside-agent"
    assert command[1:] == ["run"]
    assert service["Restart"] == "on-failure"
    assert float(service["RestartSec"]) > 0
    assert service["KillSignal"] == "SIGTERM"
    assert float(service["TimeoutStopSec"]) > 0
    environment = dict(e.split("=", 1) for e in unit["Service"]["Environment"])
    assert environment["DESKSIDE_AGENT_DIR"] == "/var/lib/deskside-agent"
    assert service["StateDirectory"] == "deskside-agent"
    condition = first["Unit"]["ConditionPathExists"]
    assert condition == environment["DESKSIDE_AGENT_DIR"] + "/agent.toml"
    # A remediation agent must be able to change the system it repairs.
    assert "ProtectSystem" not in service
    assert "ProtectHome" not in service
    assert "PrivateTmp" not in service
    assert first["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = _require_tool("systemd-analyze", "systemd")
    # verify checks that ExecStart's program exists: point it at this venv's agent.
    text = UNIT_FILE.read_text()
    installed = text.replace(
        "ExecStart=/opt/deskside/bin/deskside-agent run",
        f"ExecStart={BIN / 'deskside-agent'} run",
    )
    assert installed != text
    unit = tmp_path / "deskside-agent.service"
    unit.write_text(installed)
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
