"""Change one key in the text of a configuration file, touching as little else as possible.

INI and key=value files are edited line by line; YAML by splicing the text at the
positions ruamel.yaml's composer reports; TOML through tomlkit, which keeps formatting;
JSON (which has no comments to lose) by re-serialising with the file's own indentation.
For the structured formats the result is parsed again and compared with the intended
data, so a splice that went wrong is refused rather than written. No file I/O here.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("ini", "json", "yaml", "toml", "keyvalue")
Value = str | int | float | bool | None


class ParseError(ValueError):
    """The text does not parse as its format; the message says where."""


class BadKey(ValueError):
    """The key or value cannot be expressed in this file's format or structure."""


class EditFailed(RuntimeError):
    """The edited text did not parse back to the intended data (nothing should be written)."""


@dataclass(frozen=True)
class Edit:
    text: str
    old: Any  # the key's value before, None when it was absent
    new: Any  # the value as the file now holds it


def infer(path: str, text: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext == ".conf":  # both styles use .conf: sections decide
        has_sections = any(_SECTION.fullmatch(line) for line in text.splitlines())
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
        new_text, old, new = _edit_lines(body, key, value, ini=fmt == "ini")
        return Edit(bom + new_text, old, new)
    if any("\udc80" <= c <= "\udcff" for c in body):  # bytes that were not UTF-8
        raise ParseError(f"{fmt} must be UTF-8 text")
    parts = key.split(".")
    if not all(parts):
        raise BadKey(f"{key!r}: empty part in a dotted key")
    load, change = _STRUCTURED[fmt]
    data = load(body)
    old = _lookup(data, parts)
    new_text = change(body, parts, value)
    expected = _with(data, parts, value)
    if load(new_text) != expected:
        raise EditFailed(f"editing {fmt} would have changed more than {key}; not written")
    return Edit(bom + new_text, old, value)


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


# --- INI and key=value: a line editor ---------------------------------------------------

_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")
_SECTION = re.compile(r"\s*\[([^\]]+)\]\s*(?:[#;].*)?")
_INI_KEY = re.compile(r"(?P<indent>\s*)(?P<key>[^\s=:][^=:]*?)(?P<sep>\s*[=:]\s*)(?P<rest>.*)")
# `export` is kept with the indent so .env files stay sourceable.
_KV_KEY = re.compile(
    r"(?P<indent>\s*(?:export\s+)?)(?P<key>[^\s=#;][^\s=]*)(?P<sep>\s*=\s*)(?P<rest>.*)"
)


@dataclass
class _Entry:
    first: int  # line index
    last: int  # last line index, continuation lines included
    indent: str
    key: str
    sep: str  # "" for an INI key without a value (my.cnf's skip-networking)
    rest: str  # everything after the separator on the first line
    open_quote: bool = False  # a quoted value that continues on later lines


@dataclass
class _Section:
    name: str | None  # None: the lines before the first header (all of a keyvalue file)
    header: int
    entries: list[_Entry] = field(default_factory=list)


def _scan(lines: list[str], ini: bool) -> list[_Section]:
    sections = [_Section(None, -1)]
    entry: _Entry | None = None
    quote = ""
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        if quote and entry is not None:  # inside a multi-line quoted value
            entry.last = i
            quote = "" if quote in body else quote
            continue
        stripped = body.strip()
        if not stripped or stripped[0] in "#;":
            entry = None
            continue
        indent = len(body) - len(body.lstrip())
        # As configparser reads it: a line indented deeper than its key continues the value.
        if ini and entry is not None and indent > len(entry.indent):
            entry.last = i
            continue
        if ini and stripped.startswith("["):
            header = _SECTION.fullmatch(body)
            if header is None:
                raise ParseError(f"line {i + 1}: malformed section header {stripped[:80]!r}")
            sections.append(_Section(header[1].strip(), i))
            entry = None
            continue
        if ini and sections[-1].header < 0:
            raise ParseError(f"line {i + 1}: {stripped[:80]!r} comes before any [section]")
        match = (_INI_KEY if ini else _KV_KEY).fullmatch(body)
        if match is None:  # INI: a bare key; keyvalue: shell or anything else, left alone
            entry = _Entry(i, i, body[:indent], stripped, "", "") if ini else None
        else:
            entry = _Entry(i, i, match["indent"], match["key"], match["sep"], match["rest"])
            quoted, _, trailer = _split_rest(match["rest"], ini)
            if trailer is None and not ini:
                entry.open_quote, quote = True, quoted
        if entry is not None:
            sections[-1].entries.append(entry)
    return sections


def _split_rest(rest: str, ini: bool) -> tuple[str, str, str | None]:
    """(quote char or "", value, what follows: spaces and a comment); None: quote left open."""
    if rest[:1] in ("'", '"'):
        quote, i = rest[0], 1
        while i < len(rest) and rest[i] != quote:
            i += 2 if rest[i] == "\\" and quote == '"' else 1
        if i >= len(rest):
            return quote, rest[1:], None
        trailer = rest[i + 1 :]
        if not trailer.strip() or trailer.lstrip()[0] in ("#;" if ini else "#"):
            value = rest[1:i]
            return quote, re.sub(r"\\(.)", r"\1", value) if quote == '"' else value, trailer
    comment = re.search(r"\s+[#;]" if ini else r"\s+#", rest)
    value = rest[: comment.start()] if comment else rest.rstrip()
    return "", value, rest[len(value) :]


def _quote(value: str, quote: str, shell: bool) -> str:
    if quote == "'" and "'" in value:
        quote = '"'  # a single-quoted string cannot hold a single quote
    if quote == '"':
        value = re.sub(r'([\\"$`])' if shell else r'([\\"])', r"\\\1", value)
    return f"{quote}{value}{quote}"


def _joined(sep: str, value_text: str) -> str:
    return sep + value_text if value_text else sep.rstrip()  # no trailing blank after "key ="


def _line_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _ini_key(key: str, sections: list[_Section]) -> tuple[str, str]:
    """section and key: the first dot splits, unless only a later one names what exists."""
    splits = [(key[:i], key[i + 1 :]) for i, c in enumerate(key) if c == "."]
    if not splits:
        raise BadKey(f"{key!r}: INI keys are section.key")
    names = {s.name for s in sections}
    existing = {(s.name, e.key) for s in sections for e in s.entries}
    section, name = next(
        (p for p in splits if p in existing), next((p for p in splits if p[0] in names), splits[0])
    )
    if not section or section != section.strip() or "]" in section:
        raise BadKey(f"{key!r}: {section!r} cannot be an INI section name")
    if not name or name != name.strip() or ":" in name or name[0] in "#;[":
        raise BadKey(f"{key!r}: {name!r} cannot be an INI key")
    return section, name


def _edit_lines(text: str, key: str, value: Value, ini: bool) -> tuple[str, str | None, str]:
    lines: list[str] = _LINE.findall(text)
    sections = _scan(lines, ini)
    newline = "\r\n" if "\r\n" in text else "\n"
    new = _line_value(value)
    if ini:
        section, name = _ini_key(key, sections)
    elif key != key.strip() or any(c.isspace() for c in key) or key[0] in "#;":
        raise BadKey(f"{key!r} cannot be a key in a key=value file")
    else:
        section, name = None, key
    mine = [s for s in sections if s.name == section]

    def usable(e: _Entry) -> bool:  # keyvalue: indented assignments sit inside shell blocks
        return bool(e.sep) and (ini or not e.indent[:1].isspace())

    # A new line copies its neighbours' indent and separator (gitconfig's tabs, " = ")...
    models = [e for s in mine for e in s.entries if usable(e)]
    models = models or [e for s in sections for e in s.entries if usable(e)]
    indent, sep = (models[-1].indent, models[-1].sep) if models else ("", " = " if ini else "=")
    # ...and in a file that quotes its values (sourced by a shell), quotes what needs it.
    quoted = not ini and any(e.rest[:1] in ("'", '"') for e in models)
    fallback = '"' if quoted and re.search(r"""[\s#;'"$`\\&|<>()]""", new) else ""
    hits = [e for s in mine for e in s.entries if e.key == name]
    if hits:  # the last occurrence is the one readers act on
        e = hits[-1]
        if e.open_quote:
            raise ParseError(f"line {e.first + 1}: {name} has a multi-line value; not edited")
        quote, old, trailer = _split_rest(e.rest, ini)
        if trailer is None:  # an INI value that opens a quote it never closes: plain text
            quote, old, trailer = "", e.rest.rstrip(), e.rest[len(e.rest.rstrip()) :]
        if e.last > e.first:
            old += "".join("\n" + line.strip() for line in lines[e.first + 1 : e.last + 1])
        ending = lines[e.last][len(lines[e.last].rstrip("\r\n")) :]
        value_text = _quote(new, quote or fallback, not ini) + trailer
        line = e.indent + e.key + _joined(e.sep or sep, value_text)
        lines[e.first : e.last + 1] = [line + ending]
        return "".join(lines), old if e.sep else None, new
    added = [f"{indent}{name}{_joined(sep, _quote(new, fallback, not ini))}{newline}"]
    after = len(lines) - 1  # keyvalue: the end of the file
    if ini and mine:  # after the section's last key, before comments that lead the next
        after = max([mine[-1].header] + [e.last for e in mine[-1].entries])
    elif ini:  # a new section at the end, after a blank line
        added.insert(0, f"[{section}]{newline}")
        if lines and lines[-1].strip():
            added.insert(0, newline)
    if after >= 0 and not lines[after].endswith("\n"):
        lines[after] += newline
    lines[after + 1 : after + 1] = added
    return "".join(lines), None, new


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


_STRUCTURED: dict[str, tuple[Callable[[str], Any], Callable[[str, list[str], Value], str]]] = {
    "json": (_json_load, _json_edit),
    "toml": (_toml_load, _toml_edit),
    "yaml": (_yaml_load, _yaml_edit),
}
