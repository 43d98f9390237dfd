"""Checks on the fleet's free-text fields, raising InvalidInput that names the field."""

from __future__ import annotations

import re

from controller.errors import InvalidInput

TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}")
HOSTNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
MAX_TAGS = 32


def check_tags(tags: list[str], field: str = "tags") -> list[str]:
    if len(tags) > MAX_TAGS:
        raise InvalidInput(field, f"at most {MAX_TAGS} tags")
    for index, tag in enumerate(tags):
        if not TAG.fullmatch(tag):
            raise InvalidInput(
                f"{field}[{index}]",
                "a tag is 1-100 letters, digits or _ . : / - and starts with a letter or digit",
            )
    return sorted(set(tags))


def check_hostname(hostname: str, field: str = "hostname") -> str:
    if not HOSTNAME.fullmatch(hostname):
        raise InvalidInput(field, "a hostname is 1-253 letters, digits, '.', '-' or '_'")
    return hostname
