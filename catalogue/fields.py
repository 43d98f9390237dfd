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


def _text(value: str) -> str:
    return _no_nul(value)


ServiceName = Annotated[str, AfterValidator(_matching(_SERVICE, "service name"))]
ProcessName = Annotated[str, AfterValidator(_matching(_PROCESS, "process name"))]
AccountName = Annotated[str, AfterValidator(_matching(_ACCOUNT, "account name"))]
AbsolutePath = Annotated[str, Field(max_length=MAX_PATH), AfterValidator(_absolute_path)]
Host = Annotated[str, Field(max_length=253), AfterValidator(_host)]
Port = Annotated[int, Field(ge=1, le=65535)]
SafeText = Annotated[str, Field(max_length=4096), AfterValidator(_text)]
Timeout = Annotated[float, Field(gt=0, le=300)]
