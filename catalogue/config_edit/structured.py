"""JSON, YAML and TOML files: change one dotted key, keeping the file's own formatting.

YAML is edited by splicing the text at the positions ruamel.yaml's composer reports;
TOML through tomlkit, which keeps formatting; JSON (which has no comments to lose) by
re-serialising with the file's own indentation. The result is parsed again and compared
with the intended data, so a splice that went wrong is refused rather than written.
No file I/O here.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from typing import Any

from catalogue.config_edit.types import BadKey, EditFailed, ParseError, Value


def edit_structured(fmt: str, text: str, key: str, value: Value) -> tuple[str, Any]:
    """The edited text, and the key's value before (None when it was absent)."""
    if any("\udc80" <= c <= "\udcff" for c in text):  # bytes that were not UTF-8
        raise ParseError(f"{fmt} must be UTF-8 text")
    parts = key.split(".")
    if not all(parts):
        raise BadKey(f"{key!r}: empty part in a dotted key")
    load, change = _EDITORS[fmt]
    data = load(text)
    old = _lookup(data, parts)
    new_text = change(text, parts, value)
    expected = _with(data, parts, value)
    if load(new_text) != expected:
        raise EditFailed(f"editing {fmt} would have changed more than {key}; not written")
    return new_text, old


def _lookup(data: Any, parts: list[str]) -> Any:
    """The current value at parts, checking that setting it replaces no mapping or list."""
    node = data if data is not None else {}
    if not isinstance(node, dict):
        raise BadKey("the document is not a mapping of keys")
    for depth, part in enumerate(parts):
        if part not in node:
            return None
        node = node[part]
        where = ".".join(parts[: depth + 1])
        last = depth == len(parts) - 1
        if isinstance(node, (dict, list)) and last:
            raise BadKey(f"{where} is a {_kind(node)}; set one of its keys instead")
        if not isinstance(node, dict) and not last:
            raise BadKey(f"{where} is a {_kind(node)}, not a mapping")
    return node


def _with(data: Any, parts: list[str], value: Value) -> Any:
    out = copy.deepcopy(data) if data is not None else {}
    node = out
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def _kind(node: Any) -> str:
    return "mapping" if isinstance(node, dict) else "list" if isinstance(node, list) else "value"


# --- JSON ------------------------------------------------------------------------------


def _json_load(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _json_edit(text: str, parts: list[str], value: Value) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise BadKey("JSON has no infinity or NaN")
    data = _with(json.loads(text), parts, value)
    nested = re.search(r"\n([ \t]+)\S", text)  # the first indented line is one level deep
    indent: str | None = nested[1] if nested else None
    # json.dumps's spacing unless the file shows it is written without spaces.
    key_sep = ":" if re.search(r'"\s*:[^\s]', text) else ": "
    item_sep = "," if indent is not None or re.search(r",[^\s]", text) else ", "
    ascii_only = "\\u" in text and text.isascii()  # escapes stay escapes, UTF-8 stays UTF-8
    out = json.dumps(data, indent=indent, separators=(item_sep, key_sep), ensure_ascii=ascii_only)
    return out + text[len(text.rstrip()) :]  # keep the final newline, if any


# --- TOML ------------------------------------------------------------------------------


def _toml_load(text: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParseError(str(exc)) from None


def _toml_edit(text: str, parts: list[str], value: Value) -> str:
    import tomlkit
    from tomlkit.exceptions import ParseError as TomlkitError
    from tomlkit.items import AoT, InlineTable, String, StringType

    if value is None:
        raise BadKey("TOML has no null value")
    try:
        doc = tomlkit.parse(text)
    except TomlkitError as exc:
        raise ParseError(f"line {exc.line} column {exc.col}: {exc}") from None
    node: Any = doc
    for depth, part in enumerate(parts[:-1]):
        if part not in node:  # an inline table can only hold inline tables
            node[part] = (
                tomlkit.inline_table() if isinstance(node, InlineTable) else tomlkit.table()
            )
        node = node[part]
        if isinstance(node, AoT) or not isinstance(node, dict):
            raise BadKey(f"{'.'.join(parts[: depth + 1])} is not a table")
    item: Any = value
    old = node.get(parts[-1])
    literal = isinstance(old, String) and old.type == StringType.SLL
    if literal and isinstance(value, str) and "'" not in value:  # keep 'literal' literal
        item = tomlkit.string(value, literal=True)
    node[parts[-1]] = item
    return doc.as_string()


# --- YAML ------------------------------------------------------------------------------

# Words and numbers some YAML reader (1.1 or 1.2) takes for something other than a string.
_YAML_SPECIAL = re.compile(
    r"y|n|yes|no|on|off|true|false|null|~|[-+]?(?:\.?[0-9][0-9_,:.e+-]*|\.inf|\.nan)",
    re.IGNORECASE,
)
_YAML_PLAIN = re.compile(r"[A-Za-z_/][\w/.@+=,()-]*(?: [\w/.@+=,()-]+)*")


def _yaml_scalar(value: Value, style: str | None = None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # 1e+16 as 1.0e+16: YAML 1.1 wants the dot
        text = re.sub(r"^(-?\d+)e", r"\1.0e", repr(value))
        return {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}.get(text, text)
    if style in ('"', "|", ">"):
        return json.dumps(value, ensure_ascii=False)  # JSON strings are double-quoted YAML
    if style != "'" and _YAML_PLAIN.fullmatch(value) and not _YAML_SPECIAL.fullmatch(value):
        return value
    return "'" + value.replace("'", "''") + "'"


def _yaml_load(text: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return _plain(YAML().load(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        raise ParseError(f"{where}{exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise ParseError(str(exc).splitlines()[0]) from None


def _plain(node: Any) -> Any:
    """ruamel's round-trip objects as plain Python, so two loads compare by value."""
    from ruamel.yaml.comments import TaggedScalar
    from ruamel.yaml.scalarbool import ScalarBoolean

    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, TaggedScalar):
        return ("tagged", str(node.tag), node.value)
    if isinstance(node, (bool, ScalarBoolean)):  # before int: both are ints
        return bool(node)
    for kind in (str, int, float):
        if isinstance(node, kind):
            return kind(node)
    return node


def _yaml_edit(text: str, parts: list[str], value: Value) -> str:
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

    root = YAML().compose(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    node: Node | None = root
    for depth, part in enumerate(parts):
        assert node is None or isinstance(node, MappingNode)  # _lookup checked the data
        pairs = reversed(node.value if node is not None else [])  # the last duplicate counts
        pair = next((p for p in pairs if getattr(p[0], "value", None) == part), None)
        if pair is None:
            return _yaml_insert(text, node, parts[depth:], value, newline, _unit(root))
        key, val = pair
        if depth < len(parts) - 1:
            node = val
            continue
        assert isinstance(val, ScalarNode)
        start, end = val.start_mark.index, val.end_mark.index
        rendered = _yaml_scalar(value, val.style)
        if start == end:  # `key:` with nothing after it; the mark is on a later line
            colon = text.index(":", key.end_mark.index) + 1
            return text[:colon] + " " + rendered + text[colon:]
        end = start + len(text[start:end].rstrip("\r\n"))  # a block scalar's trailing newlines
        return text[:start] + rendered + text[end:]
    raise AssertionError("unreachable")  # pragma: no cover


def _unit(root: Any) -> int:
    """The document's indentation step: how far the first nested mapping is indented."""
    from ruamel.yaml.nodes import MappingNode

    if isinstance(root, MappingNode):
        for key, val in root.value:
            if isinstance(val, MappingNode) and not val.flow_style and val.value:
                return int(val.value[0][0].start_mark.column - key.start_mark.column)
    return 2


def _yaml_insert(text: str, node: Any, parts: list[str], value: Value, nl: str, unit: int) -> str:
    from ruamel.yaml.nodes import ScalarNode

    if node is None:  # an empty document
        column, at = 0, len(text)
    else:
        if node.flow_style:
            raise BadKey("cannot add a key to an inline {...} mapping")
        column = node.value[0][0].start_mark.column
        key, last = node.value[-1]
        while not isinstance(last, ScalarNode) and last.value and not last.flow_style:
            key, last = (
                last.value[-1] if isinstance(last.value[-1], tuple) else (key, last.value[-1])
            )
        # An empty scalar's mark sits on the next token's line: use its key's end instead.
        end = last.end_mark.index
        if isinstance(last, ScalarNode) and last.start_mark.index == end:
            end = key.end_mark.index + 1
        at = text.find("\n", end - 1) + 1 or len(text)
    lines = [" " * (column + unit * i) + _yaml_scalar(part) + ":" for i, part in enumerate(parts)]
    lines[-1] += " " + _yaml_scalar(value)
    prefix = nl if at == len(text) and text and not text.endswith("\n") else ""
    return text[:at] + prefix + "".join(line + nl for line in lines) + text[at:]


_EDITORS: dict[str, tuple[Callable[[str], Any], Callable[[str, list[str], Value], str]]] = {
    "json": (_json_load, _json_edit),
    "toml": (_toml_load, _toml_edit),
    "yaml": (_yaml_load, _yaml_edit),
}
