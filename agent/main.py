"""The `deskside-agent` entry point: the daemon's path never imports the CLI framework."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["run"]:
        # Typer parses options with pydantic: megabytes a resident agent has no use for.
        from agent.daemon import run

        sys.exit(run())
    from agent.cli import app

    app()
