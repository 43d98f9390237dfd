"""config.set and config.rollback over WinRM through the WS-Man emulator: the scripts sent,
params only in the base64 blob (the new bytes on stdin), and the agent's result shapes.
The canned answers are made here; nothing ran on Windows."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_winrm_actions import run, sent
from winrm_emulator import WinrmEmulator

from agent.actions import IMPLEMENTATIONS
from agent.actions.context import ActionContext
from catalogue import actions as params
from catalogue.config_edit.outcome import sha256

READ = "[pscustomobject]@{ file = (Current $P.path) }"
LOAD = "$record = [IO.File]::ReadAllText($j)"
WRITE = "Move-Item -LiteralPath $tmp"
WHERE = "C:\\ProgramData\\App\\app.ini"
INI = "; front desk\n[server]\nport = 8080  ; listen\n"


@pytest.fixture
def emu() -> Iterator[WinrmEmulator]:
    with WinrmEmulator() as emulator:
        yield emulator


def file_answer(content: bytes | None) -> str:
    encoded = base64.b64encode(content).decode() if content is not None else None
    size = len(content or b"")
    return json.dumps({"file": {"path": WHERE, "size": size, "link": False, "content": encoded}})


def written(emu: WinrmEmulator, index: int) -> bytes:
    return base64.b64decode(b"".join(emu.commands[index].stdin))


async def test_set_sends_the_agents_edit_and_gives_its_result(
    emu: WinrmEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKSIDE_AGENT_DIR", str(tmp_path / "state"))
    local = tmp_path / "app.ini"
    local.write_text(INI)
    emu.answer(READ, file_answer(INI.encode()))
    emu.answer(WRITE)
    got = await run(emu, "config.set", {"path": WHERE, "key": "server.port", "value": 9090})
    given = params.ConfigSet(path=str(local), key="server.port", value=9090)
    expected = IMPLEMENTATIONS["config.set"](given, ActionContext())
    assert got.ok and got.changed and got.rollback, got.error
    assert got.output == expected.output.replace(str(local), WHERE)
    assert got.data == {**expected.data, "path": WHERE}
    assert got.evidence == expected.evidence
    assert written(emu, 1) == local.read_bytes()
    first, second = sent(emu)
    assert first == {"path": WHERE}
    assert second["token"] == got.rollback and second["expected"] == sha256(INI.encode())
    record = json.loads(second["record"])
    assert record["path"] == WHERE and record["sha256_after"] == sha256(local.read_bytes())
    assert "9090" not in emu.commands[1].script  # the bytes travel on stdin, not in the script


async def test_dry_run_and_no_op_send_one_read(emu: WinrmEmulator) -> None:
    emu.answer(READ, file_answer(INI.encode()))
    shown = await run(
        emu, "config.set", {"path": WHERE, "key": "server.port", "value": 1}, dry_run=True
    )
    assert shown.ok and not shown.changed and "+port = 1  ; listen" in shown.output
    emu.answer(READ, file_answer(INI.encode()))
    same = await run(emu, "config.set", {"path": WHERE, "key": "server.port", "value": 8080})
    assert same.ok and not same.changed and "already" in same.output
    assert len(emu.commands) == 2 and shown.rollback is None


@pytest.mark.parametrize(
    ("answers", "code"),
    [
        ([(READ, json.dumps({"file": None}), 0)], "not_found"),
        ([(READ, "", 5)], "permission_denied"),
        ([(READ, file_answer(INI.encode()), 0), (WRITE, "", 9)], "conflict"),
        ([(READ, "not json", 0)], "protocol_error"),
    ],
)
async def test_set_failures(emu: WinrmEmulator, answers: list[Any], code: str) -> None:
    for marker, stdout, status in answers:
        emu.answer(marker, stdout, exit_code=status)
    got = await run(emu, "config.set", {"path": WHERE, "key": "server.port", "value": 1})
    assert got.error is not None and got.error.code == code
    assert got.data is not None and got.data["key"] == "server.port"


def backup(edited: bytes, current: bytes) -> str:
    record = {"path": WHERE, "sha256_before": sha256(INI.encode()), "sha256_after": sha256(edited)}
    return json.dumps(
        {
            "record": json.dumps(record),
            "backup": base64.b64encode(INI.encode()).decode(),
            **json.loads(file_answer(current)),
        }
    )


async def test_rollback_restores_the_backup(emu: WinrmEmulator) -> None:
    edited = INI.replace("8080", "9090").encode()
    emu.answer(LOAD, backup(edited, edited))
    emu.answer(WRITE)
    got = await run(emu, "config.rollback", {"rollback": "20250101T000000-abcd"})
    assert got.ok and got.changed, got.error
    assert got.data == {"path": WHERE, "rollback": "20250101T000000-abcd"}
    assert written(emu, 1) == INI.encode()
    assert sent(emu) == [
        {"token": "20250101T000000-abcd"},
        {"path": WHERE, "expected": sha256(edited), "token": None, "record": None},
    ]


async def test_rollback_refuses_a_file_changed_since(emu: WinrmEmulator) -> None:
    edited = INI.replace("8080", "9090").encode()
    emu.answer(LOAD, backup(edited, INI.replace("8080", "7070").encode()))
    got = await run(emu, "config.rollback", {"rollback": "20250101T000000-abcd"})
    assert got.error is not None and got.error.code == "conflict"
    assert len(emu.commands) == 1


async def test_rollback_of_an_unknown_token(emu: WinrmEmulator) -> None:
    emu.answer(LOAD, exit_code=3)
    got = await run(emu, "config.rollback", {"rollback": "nosuch"})
    assert got.error is not None and got.error.code == "not_found"
