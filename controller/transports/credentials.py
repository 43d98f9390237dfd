"""Agentless endpoints' secrets (passwords, private keys), encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256, from cryptography) with one key: DESKSIDE_CREDENTIALS_KEY
when set, otherwise `credentials.key` in the data directory, made on first use and readable
by the controller's user only. A database copied without the key gives nobody the secrets;
a lost key means enrolling the agentless endpoints' credentials again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from controller.errors import ConfigError
from controller.transports.errors import TransportError

KEY_FILE = "credentials.key"


class Vault:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise ConfigError(
                "credentials_key: must be 32 url-safe base64-encoded bytes (Fernet.generate_key())"
            ) from None

    @classmethod
    def open(cls, data_dir: Path, key: str | None = None) -> Vault:
        """The configured key, or the data directory's key file (made if missing)."""
        if key:
            return cls(key.encode())
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            # O_EXCL: two controllers starting at once must not each write a different key.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def seal(self, secrets: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(secrets).encode()).decode()

    def unseal(self, token: str | None) -> dict[str, Any]:
        if not token:
            return {}
        try:
            opened = json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError):
            raise TransportError(
                "the endpoint's credentials cannot be decrypted with this controller's key "
                "(was DESKSIDE_CREDENTIALS_KEY or credentials.key changed?)"
            ) from None
        return opened if isinstance(opened, dict) else {}
