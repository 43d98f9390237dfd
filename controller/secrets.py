"""Bearer secrets (API and enrolment tokens): generated, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str) -> str:
    # The prefix tells a leaked secret's kind at a glance (and to secret scanners).
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
