"""A RemoteShell that runs on this machine: the posix actions exercised for real, no ssh."""

from __future__ import annotations

import os
import subprocess

from controller.transports.base import Completed, RemoteContext
from controller.transports.errors import CommandTimedOut


class LocalShell:
    """Runs argv lists (never a shell string) with a C locale, as the ssh transport does.

    cwd stands for the login's home directory, where an ssh command starts.
    """

    def __init__(self, cwd: str | None = None) -> None:
        self.cwd = cwd
        self.commands: list[list[str]] = []

    def run(self, argv: list[str], timeout: float = 60.0, stdin: str | None = None) -> Completed:
        self.commands.append(list(argv))
        try:
            done = subprocess.run(
                argv,
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="surrogateescape",
                timeout=timeout,
                cwd=self.cwd,
                env={**os.environ, "LC_ALL": "C"},
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CommandTimedOut(f"{argv[0]} took longer than {timeout:g} s") from None
        except FileNotFoundError:
            # A shell answers 127 for a command it cannot find; ssh passes that on.
            return Completed(127, "", f"sh: 1: {argv[0]}: not found\n")
        return Completed(done.returncode, done.stdout, done.stderr)


def local_context(cwd: str | None = None, dry_run: bool = False) -> RemoteContext:
    return RemoteContext(shell=LocalShell(cwd), dry_run=dry_run)
