"""The installed `deskside` command, run against a test controller as an analyst types it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

from processes import ADMIN_TOKEN, BIN, ControllerProcess

Deskside = Callable[..., subprocess.CompletedProcess[str]]


def deskside_for(controller: ControllerProcess) -> Deskside:
    env = {
        **os.environ,
        "DESKSIDE_URL": controller.url,
        "DESKSIDE_TOKEN": ADMIN_TOKEN,
        "COLUMNS": "250",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "deskside"), *args], env=env, capture_output=True, text=True, timeout=60
        )

    return run
