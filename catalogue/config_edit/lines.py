"""INI and key=value files, edited line by line, touching as little else as possible.

A line editor rather than a parser: comments, blank lines, separators, quoting and
continuation lines are kept as they are, and only the line holding the key changes
(or one is added in the right section). No file I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from catalogue.config_edit.types import BadKey, ParseError, Value

_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")
SECTION = re.compile(r"\s*\[([^\]]+)\]\s*(?:[#;].*)?")
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
            header = SECTION.fullmatch(body)
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


def edit_lines(text: str, key: str, value: Value, ini: bool) -> tuple[str, str | None, str]:
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
