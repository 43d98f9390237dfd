"""The agent's command line without a controller: inventory, status, bad input."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

from processes import BIN


def _agent(*args: str, state_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "deskside-agent"), *args],
        env={**os.environ, "DESKSIDE_AGENT_DIR": str(state_dir), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_inventory_prints_this_machine_as_json(tmp_path: Path) -> None:
    everything = _agent("inventory", state_dir=tmp_path)
    assert everything.returncode == 0, everything.stderr
    snapshot = json.loads(everything.stdout)
    assert set(snapshot) == {
        "os",
        "cpu",
        "memory",
        "disks",
        "network",
        "processes",
        "services",
        "software",
        "users",
    }
    assert snapshot["os"]["hostname"] == socket.gethostname()
    only = _agent("inventory", "--section", "os", "--section", "memory", state_dir=tmp_path)
    assert set(json.loads(only.stdout)) == {"os", "memory"}


def test_unknown_section_and_bad_settings_are_refused_by_name(tmp_path: Path) -> None:
    unknown = _agent("inventory", "--section", "gpu", state_dir=tmp_path)
    assert unknown.returncode == 2
    assert "--section: unknown gpu" in unknown.stderr
    bad = _agent("run", state_dir=tmp_path, DESKSIDE_AGENT_LOG_LEVEL="loud")
    assert bad.returncode == 2
    assert "DESKSIDE_AGENT_LOG_LEVEL" in bad.stderr


def test_run_and_status_before_enrolment_say_what_to_do(tmp_path: Path) -> None:
    for command in ("run", "status"):
        result = _agent(command, state_dir=tmp_path / "empty")
        assert result.returncode == 1
        assert "deskside-agent enroll" in result.stderr
    assert not (tmp_path / "empty").exists()
