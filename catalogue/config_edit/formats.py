"""Change one key in the text of a configuration file, touching as little else as possible.

The entry point config.set uses: it picks the format (infer) and hands the edit to the
editor for that family, lines for INI and key=value files or structured for JSON, YAML
and TOML. No file I/O here, so the agent and the agentless transports edit alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from catalogue.config_edit.lines import SECTION, edit_lines
from catalogue.config_edit.structured import edit_structured
from catalogue.config_edit.types import BadKey, EditFailed, ParseError, Value

__all__ = ["FORMATS", "BadKey", "Edit", "EditFailed", "ParseError", "Value", "edit", "infer"]

FORMATS = ("ini", "json", "yaml", "toml", "keyvalue")


@dataclass(frozen=True)
class Edit:
    text: str
    old: Any  # the key's value before, None when it was absent
    new: Any  # the value as the file now holds it


def infer(path: str, text: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext == ".conf":  # both styles use .conf: sections decide
        has_sections = any(SECTION.fullmatch(line) for line in text.splitlines())
        return "ini" if has_sections else "keyvalue"
    by_ext = {".ini": "ini", ".cfg": "ini", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}
    return by_ext.get(ext, "toml" if ext == ".toml" else "keyvalue")


def edit(fmt: str, text: str, key: str, value: Value) -> Edit:
    if fmt not in FORMATS:
        raise BadKey(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    # A byte-order mark is not content: set it aside and put it back.
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    if fmt in ("ini", "keyvalue"):
        new_text, old, new = edit_lines(body, key, value, ini=fmt == "ini")
        return Edit(bom + new_text, old, new)
    new_text, old = edit_structured(fmt, body, key, value)
    return Edit(bom + new_text, old, value)
