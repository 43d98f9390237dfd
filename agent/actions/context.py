"""What an action gets besides its parameters: dry-run, and a way to run commands it can stop."""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass, field


class Stopped(Exception):
    """The run was cancelled or timed out while a command was running."""


@dataclass
class ActionContext:
    dry_run: bool = False
    _procs: set[subprocess.Popen[str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: bool = False

    def run(
        self, argv: list[str], timeout: float = 60.0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run argv (a list: never a shell string) with a C locale; stop() ends it.

        Secrets go in through stdin, never argv, where any user could read them in ps.
        """
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
