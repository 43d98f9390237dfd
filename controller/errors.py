"""The controller's exception tree.

Every error a caller can act on is a DesksideError. Library errors (SQLAlchemy,
cryptography, pydantic) are mapped to one of these at the boundary where they occur,
so the REST API and the gRPC gateway translate a single tree into status codes.

    DesksideError
    ├── ConfigError          bad settings; the process refuses to start
    ├── InvalidInput         a field's value is wrong (field, reason)         → 422
    ├── NotFound             no such object, or not visible to the caller     → 404
    ├── Conflict             the object's state forbids the operation         → 409
    ├── Unauthenticated      no valid credentials                             → 401
    ├── Forbidden            valid credentials, not allowed                   → 403
    └── EnrollmentRefused    an enrolment token or CSR was refused (reason)
"""

from __future__ import annotations


class DesksideError(Exception):
    """Base of every error the controller reports to a caller."""


class ConfigError(DesksideError):
    """The settings are invalid; the message names the setting and the reason."""


class InvalidInput(DesksideError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(DesksideError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} not found")
        self.kind = kind
        self.key = key


class Conflict(DesksideError):
    pass


class Unauthenticated(DesksideError):
    pass


class Forbidden(DesksideError):
    pass


class EnrollmentRefused(DesksideError):
    """reason is one of: token_unknown, token_expired, token_used, bad_csr, bad_request."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
