"""Run one probe command and hand back its standard output."""

from __future__ import annotations

import logging
import os
import subprocess

log = logging.getLogger(__name__)


def run_probe(argv: list[str], timeout: float = 10.0) -> str | None:
    """Run ``argv`` (no shell) and return its stdout, or None if it is missing or fails.

    The agent runs on machines it does not control, so a missing binary, a
    non-zero exit or a hang are ordinary outcomes here, not errors to raise.
    LC_ALL=C keeps the output in the untranslated format the parsers expect.
    """
    env = {**os.environ, "LC_ALL": "C"}
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("probe %s failed to run: %s", argv[0], exc)
        return None
    if result.returncode != 0:
        log.debug("probe %s exited %d: %s", argv[0], result.returncode, result.stderr[:200])
        return None
    return result.stdout


def read_file(path: str) -> str | None:
    """Return a text file's content, or None if it cannot be read.

    Kernel and config files are the file-shaped probes; like a missing
    command, a missing file just means the fact is unknown here.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None
