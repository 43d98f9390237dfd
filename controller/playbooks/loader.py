"""Read playbooks from YAML and say exactly where each problem is: file, line, column.

The round-trip loader keeps every node's position; a pydantic error's location (a path of
keys and indexes) is walked through the document to the deepest node that exists.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from controller.playbooks.schema import Playbook, problems

DIR_ENV = "DESKSIDE_PLAYBOOKS_DIR"
MAX_BYTES = 256 * 1024


class PlaybookError(ValueError):
    """One problem in one playbook file, at a line and column (both from 1)."""

    def __init__(self, path: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {message}")
        self.path = path
        self.line = line
        self.column = column
        self.message = message


@dataclass(frozen=True)
class Loaded:
    playbook: Playbook
    path: str
    digest: str  # sha256 of the file's bytes


def default_dir() -> Path:
    """The repository's playbooks/ directory, unless DESKSIDE_PLAYBOOKS_DIR says otherwise."""
    configured = os.environ.get(DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "playbooks"


def dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _position(root: Any, loc: tuple[str | int, ...]) -> tuple[int, int]:
    """0-based line and column of the deepest node of loc that exists in the document."""
    node = root
    line, column = (
        getattr(getattr(root, "lc", None), "line", 0),
        getattr(getattr(root, "lc", None), "col", 0),
    )
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line, column = node.lc.value(part) if node[part] is not None else node.lc.key(part)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, column = node.lc.item(part)
            node = node[part]
        else:
            break
    return line or 0, column or 0


def _error(path: str, root: Any, loc: tuple[str | int, ...], message: str) -> PlaybookError:
    line, column = _position(root, loc)
    where = dotted(loc)
    return PlaybookError(path, line + 1, column + 1, f"{where}: {message}" if where else message)


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def parse(text: str, path: str, name: str) -> Playbook:
    """The playbook in text (named name unless it says otherwise), or the first problem."""
    try:
        root = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line, mark.column) if mark else (0, 0)
        raise PlaybookError(path, line + 1, column + 1, str(exc.problem or exc)) from None
    if not isinstance(root, CommentedMap):
        raise PlaybookError(path, 1, 1, "a playbook is a mapping (name, steps, ...)")
    data = _plain(root)
    if data.setdefault("name", name) != name:
        raise _error(path, root, ("name",), f"must be {name!r}, the file's name")
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(p for p in first["loc"] if isinstance(p, int | str))
        message = first["msg"].removeprefix("Value error, ")
        raise _error(path, root, loc, message) from None
    for loc, message in problems(playbook):
        raise _error(path, root, loc, message)
    return playbook


def load_file(path: Path, shown_as: str | None = None) -> Loaded:
    shown = shown_as or str(path)
    raw = path.read_bytes()
    if len(raw) > MAX_BYTES:
        raise PlaybookError(shown, 1, 1, f"larger than {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlaybookError(shown, 1, 1, f"not UTF-8: {exc.reason}") from None
    playbook = parse(text, shown, path.stem)
    return Loaded(playbook, shown, hashlib.sha256(raw).hexdigest())


class Library:
    """Every *.yaml playbook of a directory, validated, by name."""

    def __init__(self, loaded: list[Loaded]) -> None:
        self._by_name = {item.playbook.name: item for item in loaded}

    @classmethod
    def load(cls, directory: Path | None = None) -> Library:
        """Raises PlaybookError on the first broken playbook: a broken library stops a start."""
        directory = directory or default_dir()
        if not directory.is_dir():
            return cls([])
        files = sorted(directory.glob("*.yaml"))
        base = directory.parent
        return cls([load_file(f, os.path.relpath(f, base)) for f in files])

    def get(self, name: str) -> Loaded | None:
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[Loaded]:
        return iter(sorted(self._by_name.values(), key=lambda item: item.playbook.name))

    def __len__(self) -> int:
        return len(self._by_name)
