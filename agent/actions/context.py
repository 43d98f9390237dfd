"""What an action gets besides its parameters: dry-run, a way to run commands it can stop,
and a way to show output while it works."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


class Stopped(Exception):
    """The run was cancelled or timed out while a command was running."""


def _discard(text: str) -> None:
    """Where output goes when nobody follows the run (tests, the command line)."""


@dataclass
class ActionContext:
    dry_run: bool = False
    # Live output: text the action has to show as soon as it has it (the executor sends it
    # to the controller). Safe to call from the action's thread; it never blocks or raises.
    emit: Callable[[str], None] = _discard
    _procs: set[subprocess.Popen[str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: bool = False

    def run(
        self,
        argv: list[str],
        timeout: float = 60.0,
        stdin: str | None = None,
        stream: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run argv (a list: never a shell string) with a C locale; stop() ends it.

        Secrets go in through stdin, never argv, where any user could read them in ps.
        stream=True also emits each line of stdout as the command writes it (for long
        commands whose output means something while they run); the answer is the same.
        """
        if stream and stdin is not None:
            raise ValueError("a streamed command takes no stdin")
        env = {**os.environ, "LC_ALL": "C"}
        with self._lock:
            if self._stopped:
                raise Stopped("run stopped")
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            )
            self._procs.add(proc)
        try:
            if stream:
                out, err = self._follow(proc, timeout)
            else:
                out, err = proc.communicate(input=stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise Stopped(f"{argv[0]} took longer than {timeout:g} s") from None
        finally:
            with self._lock:
                self._procs.discard(proc)
        if self._stopped:
            raise Stopped("run stopped")
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    def _follow(self, proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
        """Read stdout line by line, emitting each line; stderr is drained by a helper thread
        so a chatty stderr cannot block the command. Past timeout the command is killed."""
        stdout, stderr = proc.stdout, proc.stderr
        assert stdout is not None and stderr is not None
        errors: list[str] = []
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            proc.kill()

        drain = threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)
        killer = threading.Timer(timeout, expire)
        drain.start()
        killer.start()
        lines: list[str] = []
        try:
            for line in stdout:
                lines.append(line)
                self.emit(line)
            drain.join()
            proc.wait()
        except BaseException:  # unreadable output: nobody would read the pipe any more
            proc.kill()
            raise
        finally:
            killer.cancel()
        if expired.is_set():
            raise subprocess.TimeoutExpired(proc.args, timeout)
        return "".join(lines), "".join(errors)

    @property
    def stopped(self) -> bool:
        """Long walks check this between steps: a thread cannot be interrupted from outside."""
        return self._stopped

    def stop(self) -> None:
        """Kill whatever this run has started (cancel, timeout)."""
        with self._lock:
            self._stopped = True
            for proc in self._procs:
                proc.kill()
