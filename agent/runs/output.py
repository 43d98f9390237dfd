"""Live output of one run: from the action's thread to the stream, coalesced and capped.

Actions call emit() from a worker thread; the text is handed to the event loop thread
with call_soon_threadsafe and leaves as RunOutput messages at most every FLUSH_S, or as
soon as FLUSH_BYTES are waiting. Best effort: the run's result carries its (bounded)
output whatever happens here, so past MAX_OUTPUT bytes further text is dropped, and
nothing is kept for a controller that cannot hear it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from catalogue.result import MAX_OUTPUT
from protos.deskside.v1 import agent_pb2

FLUSH_S = 0.1
FLUSH_BYTES = 8 * 1024
CUT_NOTE = "\n[live output stops here; the result has the end]\n"
_CUT_NOTE = CUT_NOTE.encode()
Send = Callable[[agent_pb2.RunOutput], None]


class RunOutputStream:
    def __init__(
        self, run_id: str, send: Send, loop: asyncio.AbstractEventLoop, limit: int = MAX_OUTPUT
    ) -> None:
        self._run_id = run_id
        self._send = send
        self._loop = loop
        self._lock = threading.Lock()
        # Guarded by the lock: what waits to be sent, and what the limit still allows
        # (the note that says the output was cut has its room kept aside).
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._room = limit - len(_CUT_NOTE)
        self._cut = False
        self._woken = False  # a wake-up is on its way to the loop
        self._hurried = False  # a flush for FLUSH_BYTES is on its way
        self._closed = False
        # Used by the loop thread alone.
        self._offset = 0
        self._timer: asyncio.TimerHandle | None = None

    def emit(self, text: str) -> None:
        """Any thread: queue text for the controller; never blocks on the network."""
        data = text.encode()
        with self._lock:
            if self._closed or self._cut or not data:
                return
            if len(data) > self._room:
                data = data[: self._room].decode(errors="ignore").encode() + _CUT_NOTE
                self._cut = True
            else:
                self._room -= len(data)
            self._pending.append(data)
            self._pending_size += len(data)
            calls: list[Callable[[], None]] = []
            if not self._woken:
                self._woken = True
                calls.append(self._wake)
            if self._pending_size >= FLUSH_BYTES and not self._hurried:
                self._hurried = True
                calls.append(self.flush)
        try:
            for call in calls:
                self._loop.call_soon_threadsafe(call)
        except RuntimeError:  # the loop is closed: the agent is stopping
            pass

    def _wake(self) -> None:
        if self._timer is None:
            self._timer = self._loop.call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        """Loop thread: send what is waiting as one chunk."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with self._lock:
            chunk = b"".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
            self._woken = self._hurried = False
        if chunk:
            self._send(agent_pb2.RunOutput(run_id=self._run_id, offset=self._offset, chunk=chunk))
            self._offset += len(chunk)

    def close(self) -> None:
        """Loop thread, when the action has ended: send the rest now, take nothing more."""
        with self._lock:
            self._closed = True
        self.flush()
