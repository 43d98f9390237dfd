"""The hosts file: change one name's entry, touching as little of the file as possible."""

from __future__ import annotations

import ipaddress
import re

_TOKEN = re.compile(rb"\S+")


def _split(line: bytes) -> tuple[bytes, bytes]:
    """(the line without its end, the end): b'\\r\\n', b'\\n', b'\\r' or b''."""
    body = line.rstrip(b"\r\n")
    return body, line[len(body) :]


def _tokens(body: bytes) -> list[re.Match[bytes]]:
    """The address and names of an entry line (the part before any '#')."""
    return list(_TOKEN.finditer(body.split(b"#", 1)[0]))


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _same_address(token: bytes, address: str) -> bool:
    try:
        return ipaddress.ip_address(token.decode("ascii")) == ipaddress.ip_address(address)
    except (UnicodeDecodeError, ValueError):
        return False


def _names(tokens: list[re.Match[bytes]], hostname: bytes) -> list[re.Match[bytes]]:
    # Host names are case-insensitive; the resolver matches them that way too.
    return [t for t in tokens[1:] if t.group().lower() == hostname]


def _without(line: bytes, hostname: bytes) -> bytes | None:
    """The line with hostname taken out of its names; None when no name would remain."""
    body, end = _split(line)
    tokens = _tokens(body)
    drop = _names(tokens, hostname)
    if len(drop) == len(tokens) - 1:
        return None
    # Cut each name with the blank before it, so the rest of the line keeps its layout.
    for token in reversed(drop):
        previous = tokens[tokens.index(token) - 1]
        body = body[: previous.end()] + body[token.end() :]
    return body + end


def edit_hosts(content: bytes, hostname: str, address: str | None) -> bytes:
    """content with hostname resolving to address only (or to nothing, when None)."""
    name = hostname.lower().encode("ascii")
    lines = content.splitlines(keepends=True)
    holding = [i for i, line in enumerate(lines) if _names(_tokens(_split(line)[0]), name)]
    keep: int | None = None
    if address is not None:
        # Already right somewhere: keep that line. Else repoint a line naming only this
        # host, in place, so its position and comment stay.
        right = [i for i in holding if _same_address(_tokens(lines[i])[0].group(), address)]
        sole = [i for i in holding if len(_tokens(_split(lines[i])[0])) == 2]
        if right:
            keep = right[0]
        elif sole:
            keep = sole[0]
            first = _tokens(lines[keep])[0]
            line = lines[keep]
            lines[keep] = line[: first.start()] + address.encode() + line[first.end() :]
    result: list[bytes] = []
    for i, line in enumerate(lines):
        if i in holding and i != keep:
            edited = _without(line, name)
            if edited is not None:
                result.append(edited)
        else:
            result.append(line)
    if address is not None and keep is None:
        end = b"\r\n" if b"\r\n" in content else b"\n"
        if result and not _split(result[-1])[1]:
            result[-1] += end
        result.append(address.encode() + b"\t" + hostname.encode("ascii") + end)
    return b"".join(result)


def entries(content: bytes, hostname: str) -> list[str]:
    """The entry lines that name hostname: the before/after a ticket shows."""
    name = hostname.lower().encode("ascii")
    return [
        line.decode("utf-8", "replace").strip()
        for line in content.splitlines()
        if _names(_tokens(line), name)
    ]
