"""Parse /etc/os-release (the freedesktop.org distribution identification file)."""

from __future__ import annotations

import shlex
from typing import Any

PATHS = ("/etc/os-release", "/usr/lib/os-release")


def parse_os_release(text: str) -> dict[str, str]:
    """Return the KEY=value pairs, with shell quoting and escapes removed."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw)
        except ValueError:
            # An unbalanced quote would make the whole file unreadable with a
            # stricter parser; keep the rest of the fields instead.
            words = [raw.strip("\"'")]
        fields[key.strip()] = " ".join(words)
    return fields


def parse_os_identity(text: str) -> dict[str, Any]:
    """Return {name, pretty_name, version, build, id} from os-release text.

    Rolling distributions (Arch, Gentoo) have no VERSION_ID; they may name a
    BUILD_ID instead, reported as the build.
    """
    fields = parse_os_release(text)
    name = fields.get("NAME") or "Linux"
    return {
        "name": name,
        "pretty_name": fields.get("PRETTY_NAME") or name,
        "version": fields.get("VERSION_ID") or None,
        "build": fields.get("BUILD_ID") or None,
        "id": fields.get("ID") or "linux",
    }
