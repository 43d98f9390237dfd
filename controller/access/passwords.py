"""Password hashing with argon2id, off the event loop (a hash costs tens of milliseconds)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from controller.errors import InvalidInput

_hasher = PasswordHasher()
MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; this bounds the work one request can ask for
# Verified against when the user does not exist, so a wrong username costs as much time
# as a wrong password and does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("deskside-no-such-user")


def check_strength(password: str, field: str = "password") -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidInput(field, f"must be {MIN_LENGTH} to {MAX_LENGTH} characters long")
    if password.strip() == "" or len(set(password)) < 4:
        raise InvalidInput(field, "too simple: use at least 4 different characters")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(stored_hash or _DUMMY_HASH, password) and bool(stored_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)
