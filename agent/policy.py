"""The agent's local policy: what it refuses whatever the controller asks.

Read from policy.toml in the state directory; keys:

    max_risk = "medium"                 # read, low, medium or high (default: high)
    allow_actions = ["service.*", ...]   # if present, only these (fnmatch patterns)
    deny_actions = ["system.reboot"]     # never these
    allowed_paths = ["/etc/myapp", "/var/log"]   # what path parameters may name

A path is allowed when it, and the file it resolves to through symbolic links, both lie
inside one of allowed_paths.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

POLICY_FILE = "policy.toml"
RISKS = ("read", "low", "medium", "high")
DEFAULT_PATHS_POSIX = (
    "/etc", "/var/log", "/var/lib", "/var/cache", "/var/spool", "/tmp", "/var/tmp",  # noqa: S108 - paths allowed, not files made
    "/opt", "/srv", "/home", "/root", "/usr/local/etc",
)  # fmt: skip
DEFAULT_PATHS_WINDOWS = ("C:\\ProgramData", "C:\\Windows\\Temp", "C:\\Users")


class PolicyError(ValueError):
    pass


def _default_paths() -> list[str]:
    return list(DEFAULT_PATHS_WINDOWS if sys.platform == "win32" else DEFAULT_PATHS_POSIX)


@dataclass(frozen=True)
class Policy:
    max_risk: str = "high"
    allow_actions: list[str] | None = None
    deny_actions: list[str] = field(default_factory=list)
    allowed_paths: list[str] = field(default_factory=_default_paths)

    def as_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    def refusal(self, action: str, risk: str, paths: list[str]) -> str | None:
        """Why this policy refuses the run, or None when it allows it."""
        if RISKS.index(risk) > RISKS.index(self.max_risk):
            return f"{action} is {risk} risk; this machine allows up to {self.max_risk}"
        if any(fnmatch.fnmatchcase(action, p) for p in self.deny_actions):
            return f"{action} is denied on this machine"
        if self.allow_actions is not None and not any(
            fnmatch.fnmatchcase(action, p) for p in self.allow_actions
        ):
            return f"{action} is not among the actions allowed on this machine"
        for path in paths:
            if not self.path_allowed(path):
                return f"{path} is outside the paths allowed on this machine"
        return None

    def path_allowed(self, path: str) -> bool:
        candidates = {os.path.normpath(path), os.path.realpath(path)}
        return all(any(_inside(c, root) for root in self.allowed_paths) for c in candidates)


def _inside(path: str, root: str) -> bool:
    root = os.path.normpath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def load(state_dir: Path) -> Policy:
    path = state_dir / POLICY_FILE
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return Policy()
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: {exc}") from None
    unknown = set(data) - {"max_risk", "allow_actions", "deny_actions", "allowed_paths"}
    if unknown:
        raise PolicyError(f"{path}: unknown key {sorted(unknown)[0]!r}")
    if data.get("max_risk", "high") not in RISKS:
        raise PolicyError(f"{path}: max_risk must be one of {', '.join(RISKS)}")
    for key in ("allow_actions", "deny_actions", "allowed_paths"):
        value = data.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise PolicyError(f"{path}: {key} must be a list of strings")
    for root in data.get("allowed_paths", []):
        if not os.path.isabs(root):
            raise PolicyError(f"{path}: allowed_paths entry {root!r} is not absolute")
    return Policy(
        max_risk=data.get("max_risk", "high"),
        allow_actions=data.get("allow_actions"),
        deny_actions=data.get("deny_actions", []),
        allowed_paths=data.get("allowed_paths", _default_paths()),
    )
