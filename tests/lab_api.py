"""The controller's REST API called from inside a lab namespace, where it listens.

The network-namespace lab is closed: the root namespace cannot reach a controller that
listens on a lab address, so tests drive it with curl run inside the controller's own host.
"""

from __future__ import annotations

import json
from typing import Any

from netns import Host
from processes import ADMIN_TOKEN


class LabApi:
    """The controller's REST API, called from inside the controller's own namespace."""

    def __init__(self, host: Host, base_url: str) -> None:
        self.host = host
        self.base_url = base_url

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        argv = [
            "curl", "-sS", "--fail-with-body", "-X", method,
            "-H", f"Authorization: Bearer {ADMIN_TOKEN}",
            "-H", "Content-Type: application/json",
            f"{self.base_url}/api/v1{path}",
        ]  # fmt: skip
        if body is not None:
            argv += ["--data", json.dumps(body)]
        result = self.host.run(argv, capture_output=True, text=True, timeout=20)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout) if result.stdout else None  # 204: no body

    def online(self, endpoint_id: str) -> bool:
        return bool(self.request("GET", f"/endpoints/{endpoint_id}")["online"])
