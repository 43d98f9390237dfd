"""Parameter types with the checks that keep input from becoming a command or a path escape.

Commands are argument lists, never shell strings, so quoting is not the defence here;
these checks are: no NUL bytes, no leading '-' (an argument that would read as an
option), names from a small alphabet, absolute normalised paths without '..'.
"""

from __future__ import annotations

import ipaddress
import ntpath
import posixpath
import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, Field

_SERVICE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9@._:+\-]{0,199}")
_PROCESS = re.compile(r"[A-Za-z0-9_][A-Za-z0-9 @._:+\-]{0,254}")
_HOST = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?"
)
_PORT = re.compile(r"[0-9]{1,5}")
_ACCOUNT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@\-]{0,63}")
_WINDOWS_ABSOLUTE = re.compile(r"[A-Za-z]:\\")
MAX_PATH = 4096


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        _no_nul(value)
        if not pattern.fullmatch(value):
            raise ValueError(f"not a valid {what}")
        return value

    return check


def _absolute_path(value: str) -> str:
    _no_nul(value)
    if _WINDOWS_ABSOLUTE.match(value):
        parts = value.replace("/", "\\").split("\\")
        normalised = ntpath.normpath(value)
    elif value.startswith("/"):
        parts = value.split("/")
        normalised = posixpath.normpath(value)
        if normalised.startswith("//"):  # POSIX keeps a leading double slash; nobody means it
            normalised = "/" + normalised.lstrip("/")
    else:
        raise ValueError("must be an absolute path (/... or C:\\...)")
    if ".." in parts:
        raise ValueError("must not contain '..'")
    return normalised


def _host(value: str) -> str:
    _no_nul(value)
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if value.startswith("-") or not _HOST.fullmatch(value):
        raise ValueError("not a valid hostname or IP address")
    return value


def split_host_port(value: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` as (host, port or None). A bare IPv6
    address has several colons and no port: its port needs the brackets."""
    if value.startswith("["):
        host, closed, rest = value[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ValueError("not a valid [IPv6 address]:port")
        if ":" not in host:
            raise ValueError("brackets are for an IPv6 address")
        port = rest[1:] if rest else None
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host, port = value, None
    if port is None:
        return host, None
    if not (_PORT.fullmatch(port) and 1 <= int(port) <= 65535):
        raise ValueError("the port must be a number from 1 to 65535")
    return host, int(port)


def _host_port(value: str) -> str:
    host, port = split_host_port(_no_nul(value))
    host = _host(host)
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _text(value: str) -> str:
    return _no_nul(value)


ServiceName = Annotated[str, AfterValidator(_matching(_SERVICE, "service name"))]
ProcessName = Annotated[str, AfterValidator(_matching(_PROCESS, "process name"))]
AccountName = Annotated[str, AfterValidator(_matching(_ACCOUNT, "account name"))]
AbsolutePath = Annotated[str, Field(max_length=MAX_PATH), AfterValidator(_absolute_path)]
Host = Annotated[str, Field(max_length=253), AfterValidator(_host)]
# A server off its protocol's standard port (an NTP server on loopback in the tests).
HostPort = Annotated[str, Field(max_length=261), AfterValidator(_host_port)]
Port = Annotated[int, Field(ge=1, le=65535)]
SafeText = Annotated[str, Field(max_length=4096), AfterValidator(_text)]
Timeout = Annotated[float, Field(gt=0, le=300)]
