"""What can go wrong reaching an agentless endpoint, whatever the library underneath.

paramiko's and pywinrm's (requests') exceptions are mapped to these where they are raised,
so runs, connectivity tests and the API see one tree:

    TransportError                      (a DesksideError)
    ├── Unreachable          no route, refused, DNS, or the connect timed out
    ├── HostKeyRefused       the host's key is not the pinned one (or none is pinned)
    ├── AuthenticationFailed the credentials were refused
    ├── CommandTimedOut      connected, but the command did not finish in time
    └── ProtocolError        the far end spoke, but not as expected (bad WS-Man reply, ...)
"""

from __future__ import annotations

from controller.errors import DesksideError


class TransportError(DesksideError):
    """code is the ActionResult error code a run reports for it."""

    code = "transport_error"


class Unreachable(TransportError):
    code = "unreachable"


class HostKeyRefused(TransportError):
    """The key the host showed is not the one pinned for it: never connect on."""

    code = "host_key_refused"

    def __init__(self, message: str, seen: str = "") -> None:
        super().__init__(message)
        self.seen = seen  # the key the host showed ("ssh-ed25519 AAAA..."), for the admin


class AuthenticationFailed(TransportError):
    code = "authentication_failed"


class CommandTimedOut(TransportError):
    code = "timeout"


class ProtocolError(TransportError):
    code = "protocol_error"
