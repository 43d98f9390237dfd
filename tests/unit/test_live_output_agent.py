"""Live output on the agent: streamed commands, and chunks coalesced, capped, in order."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import catalogue
from agent.actions import IMPLEMENTATIONS
from agent.actions.context import ActionContext, Stopped
from agent.policy import Policy
from agent.runs import output as output_module
from agent.runs.executor import Executor
from agent.runs.journal import Journal
from agent.runs.output import CUT_NOTE, RunOutputStream
from catalogue import ActionResult
from protos.deskside.v1 import agent_pb2


def _joined(sent: list[agent_pb2.RunOutput]) -> bytes:
    """The chunks' bytes, checking that each starts where the one before ended."""
    offset = 0
    for chunk in sent:
        assert chunk.offset == offset
        offset += len(chunk.chunk)
    return b"".join(chunk.chunk for chunk in sent)


async def test_lines_reach_the_stream_while_the_command_still_runs(tmp_path: Path) -> None:
    # The command cannot print its second line, nor end, before its first line has been
    # sent: output that only came with the end would make it time out instead.
    go_on = tmp_path / "first-line-arrived"
    script = f"echo a; while [ ! -e '{go_on}' ]; do sleep 0.01; done; echo b >&2; echo c"
    loop = asyncio.get_running_loop()
    sent: list[agent_pb2.RunOutput] = []
    ended = threading.Event()
    sent_while_running: list[bool] = []

    def send(chunk: agent_pb2.RunOutput) -> None:
        sent.append(chunk)
        sent_while_running.append(not ended.is_set())
        go_on.touch()

    stream = RunOutputStream("r1", send, loop)
    ctx = ActionContext(emit=stream.emit)

    def work() -> Any:
        try:
            return ctx.run(["sh", "-c", script], timeout=20, stream=True)
        finally:
            ended.set()

    done = await loop.run_in_executor(None, work)
    assert sent[0].chunk == b"a\n" and sent[0].run_id == "r1"
    assert sent_while_running[0]
    stream.close()
    assert _joined(sent) == b"a\nc\n"
    # The same answer as without stream=True.
    assert (done.returncode, done.stdout, done.stderr) == (0, "a\nc\n", "b\n")


def test_a_streamed_command_answers_like_a_plain_one() -> None:
    argv = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    lines: list[str] = []
    streamed = ActionContext(emit=lines.append).run(argv, stream=True)
    plain = ActionContext().run(argv)
    assert (streamed.returncode, streamed.stdout, streamed.stderr) == (3, "out\n", "err\n")
    assert (plain.returncode, plain.stdout, plain.stderr) == (3, "out\n", "err\n")
    assert lines == ["out\n"]


@pytest.mark.parametrize("dry_run", [True, False])
def test_disk_cleanup_shows_each_path_as_it_goes(tmp_path: Path, dry_run: bool) -> None:
    old = time.time() - 30 * 86400
    for name in ("a.log", "b.log"):
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (old, old))
    (tmp_path / "fresh.log").write_text("x")
    shown: list[str] = []
    params = catalogue.validate("disk.cleanup", {"paths": [str(tmp_path)], "older_than_s": 3600})
    result = IMPLEMENTATIONS["disk.cleanup"](
        params, ActionContext(dry_run=dry_run, emit=shown.append)
    )
    listed = result.data["would_delete" if dry_run else "deleted"]
    assert sorted(shown) == sorted(f"{path}\n" for path in listed)
    assert sorted(shown) == [f"{tmp_path / 'a.log'}\n", f"{tmp_path / 'b.log'}\n"]


def test_a_streamed_command_past_its_timeout_is_killed() -> None:
    with pytest.raises(Stopped, match="took longer"):
        ActionContext().run(["sh", "-c", "echo started; exec sleep 30"], timeout=0.2, stream=True)


async def test_output_is_coalesced_until_the_flush() -> None:
    sent: list[agent_pb2.RunOutput] = []
    stream = RunOutputStream("r1", sent.append, asyncio.get_running_loop())
    for n in range(100):
        stream.emit(f"line {n}\n")
    await asyncio.sleep(0)
    assert sent == []  # nothing before the flush interval
    await asyncio.sleep(output_module.FLUSH_S * 3)
    assert len(sent) == 1
    assert _joined(sent) == "".join(f"line {n}\n" for n in range(100)).encode()


async def test_a_full_buffer_leaves_without_waiting_for_the_interval() -> None:
    sent: list[agent_pb2.RunOutput] = []
    stream = RunOutputStream("r1", sent.append, asyncio.get_running_loop())
    stream.emit("x" * output_module.FLUSH_BYTES)
    await asyncio.sleep(0)  # the flush queued by emit runs, the interval's timer has not
    assert _joined(sent) == b"x" * output_module.FLUSH_BYTES


async def test_output_past_the_limit_is_cut_with_a_note() -> None:
    sent: list[agent_pb2.RunOutput] = []
    stream = RunOutputStream("r1", sent.append, asyncio.get_running_loop(), limit=200)
    for n in range(50):
        stream.emit(f"line {n:02d}\n")
    stream.close()
    text = _joined(sent)
    assert len(text) == 200
    assert text.startswith(b"line 00\nline 01\n")
    assert text.endswith(CUT_NOTE.encode())


async def test_close_sends_the_rest_at_once_and_takes_nothing_more() -> None:
    sent: list[agent_pb2.RunOutput] = []
    stream = RunOutputStream("r1", sent.append, asyncio.get_running_loop())
    stream.emit("last words\n")
    stream.close()
    assert _joined(sent) == b"last words\n"
    stream.emit("too late\n")
    await asyncio.sleep(output_module.FLUSH_S * 3)
    assert len(sent) == 1


async def test_the_executor_sends_a_runs_output_before_its_final_update(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def talking(_params: object, ctx: ActionContext) -> ActionResult:
        ctx.emit("working\n")
        return ActionResult(output="working\n")

    monkeypatch.setitem(IMPLEMENTATIONS, "file.stat", talking)
    sent: list[tuple[str, Any]] = []
    finished = asyncio.Event()

    def report(update: agent_pb2.RunUpdate) -> None:
        sent.append(("update", update.state))
        finished.set()

    journal = Journal(tmp_path / "journal.db")
    executor = Executor(
        journal, Policy(), report, send_output=lambda chunk: sent.append(("output", chunk.chunk))
    )
    executor.submit(
        agent_pb2.RunRequest(
            run_id="r1",
            action="file.stat",
            params_json=json.dumps({"path": "/etc/hostname"}).encode(),
            timeout_ms=10_000,
        )
    )
    await asyncio.wait_for(finished.wait(), 10)
    executor.close()
    journal.close()
    assert sent == [("output", b"working\n"), ("update", "succeeded")]
