"""Health checks: what each kind measures, with which action, and how a result is judged.

Shared by the controller (which validates a check's params and thresholds when it is
created) and the agent (which runs the check's action on its own schedule and evaluates
the result locally, so checks keep working while the controller cannot be reached).
Every evaluator is pure: an ActionResult in, an Evaluation (ok, warn, fail or error) out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from catalogue.actions import CertCheck
from catalogue.fields import AbsolutePath, Host, ProcessName, SafeText, ServiceName
from catalogue.registry import CatalogueError
from catalogue.result import ActionResult

Status = Literal["ok", "warn", "fail", "error"]
STATUSES: tuple[str, ...] = ("ok", "warn", "fail", "error")
MAX_EVIDENCE_OUTPUT = 4096  # characters of the action's output kept as evidence
MAX_EVIDENCE_DATA = 16 * 1024  # bytes of the action's data (JSON) kept as evidence
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")


class _Strict(BaseModel):
    # A misspelt field is an error, and "5" is not a number.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NoThresholds(_Strict):
    pass


class ServiceRunning(_Strict):
    name: ServiceName


class ProcessAbsent(_Strict):
    name: ProcessName = Field(description="the process name (as process.list shows it)")


class DiskFree(_Strict):
    path: AbsolutePath = Field(default="/", description="a directory on the filesystem")


class DiskFreeThresholds(_Strict):
    warn_below_percent: float = Field(default=15.0, ge=0, le=100)
    fail_below_percent: float = Field(default=5.0, ge=0, le=100)
    warn_below_bytes: int | None = Field(default=None, ge=0)
    fail_below_bytes: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> DiskFreeThresholds:
        if self.fail_below_percent > self.warn_below_percent:
            raise ValueError("fail_below_percent must not be above warn_below_percent")
        if (
            self.fail_below_bytes is not None
            and self.warn_below_bytes is not None
            and self.fail_below_bytes > self.warn_below_bytes
        ):
            raise ValueError("fail_below_bytes must not be above warn_below_bytes")
        return self


def _key(value: str) -> str:
    if not _KEY.fullmatch(value):
        raise ValueError("not a valid configuration key (letters, digits, _ . -)")
    return value


class ConfigValue(_Strict):
    path: AbsolutePath
    key: Annotated[str, Field(max_length=200), AfterValidator(_key)]
    equals: SafeText | None = Field(
        default=None, description="the value wanted; left out: the key must only be set"
    )


class CertExpiry(CertCheck):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CertExpiryThresholds(_Strict):
    warn_days: float = Field(default=30.0, ge=0, le=3650)
    fail_days: float = Field(default=7.0, ge=0, le=3650)

    @model_validator(mode="after")
    def _ordered(self) -> CertExpiryThresholds:
        if self.fail_days > self.warn_days:
            raise ValueError("fail_days must not be above warn_days")
        return self


class TimeOffset(_Strict):
    server: Host = Field(description="the NTP server to compare the clock with")


class TimeOffsetThresholds(_Strict):
    warn_s: float = Field(default=1.0, gt=0, le=86400)
    fail_s: float = Field(default=5.0, gt=0, le=86400)

    @model_validator(mode="after")
    def _ordered(self) -> TimeOffsetThresholds:
        if self.fail_s < self.warn_s:
            raise ValueError("fail_s must not be below warn_s")
        return self


@dataclass(frozen=True)
class Evaluation:
    status: Status
    value: Any
    message: str


def _error(result: ActionResult) -> Evaluation:
    error = result.error
    code, message = (error.code, error.message) if error else ("failed", "no result")
    return Evaluation("error", None, f"{code}: {message}")


def _service_running(result: ActionResult, params: Any, _: Any) -> Evaluation:
    data = result.data if isinstance(result.data, dict) else {}
    if result.error is not None and result.error.code == "not_found":
        return Evaluation("fail", "not_found", f"no service named {params.name}")
    if result.error is not None:
        return _error(result)
    state = str(data.get("state", "unknown"))
    if state == "running":
        pid = f" (pid {data['pid']})" if data.get("pid") else ""
        return Evaluation("ok", state, f"{params.name} is running{pid}")
    return Evaluation("fail", state, f"{params.name} is {state}")


def _process_absent(result: ActionResult, params: Any, _: Any) -> Evaluation:
    if result.error is not None:
        return _error(result)
    data = result.data if isinstance(result.data, dict) else {}
    count = int(data.get("count", 0))
    if count == 0:
        return Evaluation("ok", 0, f"no process named {params.name}")
    pids = ", ".join(str(p.get("pid")) for p in data.get("processes", [])[:10])
    plural = "process" if count == 1 else "processes"
    return Evaluation("fail", count, f"{count} {plural} named {params.name} (pid {pids})")


def _disk_free(result: ActionResult, params: Any, limits: Any) -> Evaluation:
    if result.error is not None:
        return _error(result)
    fs = (result.data or {}).get("filesystem") or {}
    total, free = int(fs.get("total") or 0), int(fs.get("free") or 0)
    if total <= 0:
        return Evaluation("error", None, f"no filesystem figures for {params.path}")
    percent = round(free * 100 / total, 2)
    value = {"free_percent": percent, "free_bytes": free, "total_bytes": total}
    said = f"{params.path}: {percent:g}% free ({free / 2**30:.1f} GiB of {total / 2**30:.1f} GiB)"
    if percent < limits.fail_below_percent or (
        limits.fail_below_bytes is not None and free < limits.fail_below_bytes
    ):
        return Evaluation("fail", value, said)
    if percent < limits.warn_below_percent or (
        limits.warn_below_bytes is not None and free < limits.warn_below_bytes
    ):
        return Evaluation("warn", value, said)
    return Evaluation("ok", value, said)


def _unquoted(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def config_lookup(text: str, key: str) -> str | None:
    """The last value set for key in `key = value`, `key: value` or `key value` lines."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*(?:[=:]|\s)\s*(.*?)\s*$")
    found = None
    for line in text.splitlines():
        if line.lstrip().startswith(("#", ";", "//")):
            continue
        match = pattern.match(line)
        if match:
            found = _unquoted(match.group(1))
    return found


def _config_value(result: ActionResult, params: Any, _: Any) -> Evaluation:
    if result.error is not None:
        if result.error.code == "not_found":
            return Evaluation("fail", None, f"{params.path} does not exist")
        return _error(result)
    value = config_lookup(result.output, params.key)
    if value is None:
        return Evaluation("fail", None, f"{params.key} is not set in {params.path}")
    if params.equals is not None and value != params.equals:
        return Evaluation("fail", value, f"{params.key} is {value!r}, wanted {params.equals!r}")
    return Evaluation("ok", value, f"{params.key} is {value!r}")


def _cert_expiry(result: ActionResult, params: Any, limits: Any) -> Evaluation:
    if result.error is not None:
        if result.error.code == "not_found":
            return Evaluation("fail", None, result.error.message)
        return _error(result)
    certs = (result.data or {}).get("certificates") or []
    if not certs:
        return Evaluation("error", None, "no certificate found")
    leaf = certs[0]
    days = float(leaf.get("days_left", 0))
    subject = leaf.get("subject", "?")
    if leaf.get("expired"):
        return Evaluation("fail", days, f"{subject} expired {-days:g} days ago")
    said = f"{subject} expires in {days:g} days ({leaf.get('not_after')})"
    if days < limits.fail_days:
        return Evaluation("fail", days, said)
    if days < limits.warn_days:
        return Evaluation("warn", days, said)
    return Evaluation("ok", days, said)


def _time_offset(result: ActionResult, params: Any, limits: Any) -> Evaluation:
    if result.error is not None:
        return _error(result)
    offset = float((result.data or {}).get("offset_s", 0.0))
    said = f"the clock is {abs(offset):.3f} s off {params.server}"
    if abs(offset) >= limits.fail_s:
        return Evaluation("fail", offset, said)
    if abs(offset) >= limits.warn_s:
        return Evaluation("warn", offset, said)
    return Evaluation("ok", offset, said)


Evaluator = Callable[[ActionResult, Any, Any], Evaluation]


@dataclass(frozen=True)
class CheckSpec:
    kind: str
    summary: str
    params: type[BaseModel]
    thresholds: type[BaseModel]
    action: str  # the catalogue action the agent runs
    action_params: Callable[[Any], dict[str, Any]]
    evaluate: Evaluator


def _cert_params(p: Any) -> dict[str, Any]:
    return {"path": p.path} if p.path is not None else {"host": p.host, "port": p.port}


SPECS = [
    CheckSpec(
        "service.running",
        "a service is running",
        ServiceRunning,
        NoThresholds,
        "service.status",
        lambda p: {"name": p.name},
        _service_running,
    ),
    CheckSpec(
        "process.absent",
        "no process of this name runs",
        ProcessAbsent,
        NoThresholds,
        "process.list",
        lambda p: {"name": p.name, "limit": 20},
        _process_absent,
    ),
    CheckSpec(
        "disk.free",
        "free space on a filesystem",
        DiskFree,
        DiskFreeThresholds,
        "disk.usage",
        lambda p: {"path": p.path, "depth": 1, "top": 1},
        _disk_free,
    ),
    CheckSpec(
        "config.value",
        "a key in a configuration file has a value",
        ConfigValue,
        NoThresholds,
        "log.tail",
        lambda p: {"path": p.path, "grep": p.key, "lines": 10000},
        _config_value,
    ),
    CheckSpec(
        "cert.expiry",
        "days before a certificate expires",
        CertExpiry,
        CertExpiryThresholds,
        "cert.check",
        _cert_params,
        _cert_expiry,
    ),
    CheckSpec(
        "time.offset",
        "clock offset from an NTP server",
        TimeOffset,
        TimeOffsetThresholds,
        "time.check",
        lambda p: {"server": p.server},
        _time_offset,
    ),
]
CHECKS: dict[str, CheckSpec] = {spec.kind: spec for spec in SPECS}


def get_check(kind: str) -> CheckSpec:
    spec = CHECKS.get(kind)
    if spec is None:
        raise CatalogueError("check", f"unknown check {kind[:100]!r}; one of {', '.join(CHECKS)}")
    return spec


def _model(model: type[BaseModel], raw: Any, where: str) -> BaseModel:
    if raw is not None and not isinstance(raw, dict):
        raise CatalogueError(where, "must be an object")
    try:
        return model.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise CatalogueError(
            f"{where}.{loc}" if loc else where, first["msg"].removeprefix("Value error, ")
        ) from None


def validate_check(kind: str, params: Any, thresholds: Any) -> tuple[BaseModel, BaseModel]:
    """The check's params and thresholds as their models; CatalogueError names the field."""
    spec = get_check(kind)
    return _model(spec.params, params, "params"), _model(spec.thresholds, thresholds, "thresholds")


def plan(kind: str, params: BaseModel) -> tuple[str, dict[str, Any]]:
    """The catalogue action (name, params) the agent runs for this check."""
    spec = get_check(kind)
    return spec.action, spec.action_params(params)


def evaluate(
    kind: str, result: ActionResult, params: BaseModel, thresholds: BaseModel
) -> Evaluation:
    """Judge an action's result; an evaluator's bug is an error status, never an exception."""
    try:
        return get_check(kind).evaluate(result, params, thresholds)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return Evaluation("error", None, f"cannot evaluate the result: {type(exc).__name__}: {exc}")


def evidence(action: str, action_params: dict[str, Any], result: ActionResult) -> dict[str, Any]:
    """What a check result carries as proof: the action, its findings, bounded."""
    data: Any = result.data
    if len(json.dumps(data, default=str)) > MAX_EVIDENCE_DATA:
        data = {"omitted": f"larger than {MAX_EVIDENCE_DATA} bytes; see output"}
    return {
        "action": action,
        "params": action_params,
        "output": result.output[-MAX_EVIDENCE_OUTPUT:],
        "data": data,
        "error": result.error.model_dump() if result.error else None,
    }
