"""What enrolment leaves in the state directory, and how it is read back."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

KEY = "agent.key"
CERT = "agent.pem"
CA = "ca.pem"
IDENTITY = "agent.toml"
SPOOL = "spool.db"


class NotEnrolled(RuntimeError):
    pass


@dataclass(frozen=True)
class Identity:
    endpoint_id: str
    controller: str
    site: str
    tags: list[str]


@dataclass(frozen=True)
class Credentials:
    key_pem: bytes
    cert_pem: bytes
    ca_pem: bytes


def write_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Atomically: a crash leaves the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def save(state_dir: Path, identity: Identity, credentials: Credentials) -> None:
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_file(state_dir / KEY, credentials.key_pem, 0o600)
    write_file(state_dir / CERT, credentials.cert_pem)
    write_file(state_dir / CA, credentials.ca_pem)
    tags = ", ".join(_toml_string(t) for t in identity.tags)
    text = (
        "# Written by `deskside-agent enroll`.\n"
        f"endpoint_id = {_toml_string(identity.endpoint_id)}\n"
        f"controller = {_toml_string(identity.controller)}\n"
        f"site = {_toml_string(identity.site)}\n"
        f"tags = [{tags}]\n"
    )
    write_file(state_dir / IDENTITY, text.encode())


def load(state_dir: Path) -> tuple[Identity, Credentials]:
    try:
        data = tomllib.loads((state_dir / IDENTITY).read_text())
        credentials = Credentials(
            (state_dir / KEY).read_bytes(),
            (state_dir / CERT).read_bytes(),
            (state_dir / CA).read_bytes(),
        )
    except FileNotFoundError:
        raise NotEnrolled(
            f"no enrolment found in {state_dir}; run `deskside-agent enroll` first"
        ) from None
    identity = Identity(
        endpoint_id=str(data["endpoint_id"]),
        controller=str(data["controller"]),
        site=str(data.get("site", "")),
        tags=[str(t) for t in data.get("tags", [])],
    )
    return identity, credentials


def is_enrolled(state_dir: Path) -> bool:
    return (state_dir / IDENTITY).exists()
