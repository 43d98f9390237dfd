"""Health-check kinds: validation with named fields, and every evaluator on recorded results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalogue import ActionResult, CatalogueError
from catalogue.checks import CHECKS, config_lookup, evaluate, evidence, plan, validate_check
from catalogue.registry import validate as validate_action
from catalogue.schedule import next_cron, validate_schedule

RECORDED = Path(__file__).parent.parent / "recorded" / "linux" / "checks"


def recorded(name: str) -> ActionResult:
    return ActionResult.model_validate(json.loads((RECORDED / f"{name}.json").read_text()))


def judge(kind: str, result: ActionResult, params: dict[str, Any], thresholds: Any = None) -> Any:
    p, t = validate_check(kind, params, thresholds)
    return evaluate(kind, result, p, t)


def test_every_kind_plans_a_catalogue_action_with_valid_params() -> None:
    examples = {
        "service.running": {"name": "cron"},
        "process.absent": {"name": "miner"},
        "disk.free": {"path": "/var"},
        "config.value": {"path": "/etc/app.conf", "key": "LogLevel", "equals": "info"},
        "cert.expiry": {"host": "example.org"},
        "time.offset": {"server": "pool.ntp.org"},
    }
    assert set(examples) == set(CHECKS)
    for kind, params in examples.items():
        action, action_params = plan(kind, validate_check(kind, params, None)[0])
        validate_action(action, action_params)  # raises if the plan is wrong


@pytest.mark.parametrize(
    ("kind", "params", "thresholds", "field"),
    [
        ("nope.check", {}, None, "check"),
        ("service.running", {}, None, "params.name"),
        ("service.running", {"name": "-rf"}, None, "params.name"),
        ("process.absent", {"name": "x", "extra": 1}, None, "params.extra"),
        ("disk.free", {"path": "relative"}, None, "params.path"),
        ("disk.free", {}, {"warn_below_percent": "10"}, "thresholds.warn_below_percent"),
        ("disk.free", {}, {"warn_below_percent": 5, "fail_below_percent": 10}, "thresholds"),
        ("config.value", {"path": "/etc/a", "key": "a b"}, None, "params.key"),
        ("cert.expiry", {}, None, "params"),
        ("cert.expiry", {"host": "a.example"}, {"warn_days": 1, "fail_days": 2}, "thresholds"),
        ("time.offset", {"server": "ntp.example"}, {"warn_s": 0}, "thresholds.warn_s"),
        ("time.offset", {"server": "ntp.example"}, [], "thresholds"),
    ],
)
def test_bad_definitions_name_the_field(
    kind: str, params: dict[str, Any], thresholds: Any, field: str
) -> None:
    with pytest.raises(CatalogueError) as caught:
        validate_check(kind, params, thresholds)
    assert caught.value.field == field, caught.value


def test_service_running() -> None:
    ok = judge("service.running", recorded("service.status-running"), {"name": "cron"})
    assert (ok.status, ok.value) == ("ok", "running") and "pid 812" in ok.message
    stopped = judge("service.running", recorded("service.status-stopped"), {"name": "testd"})
    assert (stopped.status, stopped.value) == ("fail", "stopped")
    missing = judge("service.running", recorded("service.status-missing"), {"name": "x"})
    assert (missing.status, missing.value) == ("fail", "not_found")


def test_process_absent() -> None:
    found = judge("process.absent", recorded("process.list-found"), {"name": "dskrec-probe"})
    assert (found.status, found.value) == ("fail", 1)
    assert "1 process named dskrec-probe" in found.message
    none = judge("process.absent", recorded("process.list-none"), {"name": "dskrec-nothing"})
    assert (none.status, none.value) == ("ok", 0)


def test_disk_free_thresholds() -> None:
    result = recorded("disk.usage-tmp")  # 83.8 GB free of 270.6 GB: 30.96 %
    ok = judge("disk.free", result, {"path": "/tmp"})
    assert ok.status == "ok" and ok.value["free_percent"] == pytest.approx(30.96, abs=0.01)
    warn = judge("disk.free", result, {"path": "/tmp"}, {"warn_below_percent": 40})
    assert warn.status == "warn"
    fail = judge("disk.free", result, {"path": "/tmp"}, {"fail_below_bytes": 10**12})
    assert fail.status == "fail"
    fail = judge(
        "disk.free", result, {"path": "/tmp"}, {"warn_below_percent": 50, "fail_below_percent": 31}
    )
    assert fail.status == "fail" and "30.96% free" in fail.message


def test_config_value() -> None:
    result = recorded("log.tail-config")
    ok = judge(
        "config.value", result, {"path": "/etc/app.conf", "key": "LogLevel", "equals": "info"}
    )
    assert (ok.status, ok.value) == ("ok", "info")
    wrong = judge("config.value", result, {"path": "/etc/a", "key": "LogLevel", "equals": "debug"})
    assert (wrong.status, wrong.value) == ("fail", "info")
    unset = judge("config.value", result, {"path": "/etc/a", "key": "Other"})
    assert unset.status == "fail" and "not set" in unset.message
    missing = judge("config.value", recorded("log.tail-missing"), {"path": "/etc/a", "key": "k"})
    assert missing.status == "fail" and "does not exist" in missing.message
    assert config_lookup("a: 1\n; a: 2\nab = 3\n", "a") == "1"


def test_cert_expiry() -> None:
    result = recorded("cert.check-20days")
    ok = judge("cert.expiry", result, {"path": "/etc/c.pem"}, {"warn_days": 10, "fail_days": 5})
    assert ok.status == "ok" and 19 <= ok.value <= 20
    assert judge("cert.expiry", result, {"path": "/etc/c.pem"}).status == "warn"  # < 30 days
    fail = judge("cert.expiry", result, {"path": "/etc/c.pem"}, {"fail_days": 25})
    assert fail.status == "fail" and "CN=dskrec.example" in fail.message


def test_time_offset() -> None:
    result = recorded("time.check-offset")  # 2.5 s ahead
    params = {"server": "ntp.example"}
    assert judge("time.offset", result, params).status == "warn"
    assert judge("time.offset", result, params, {"warn_s": 3, "fail_s": 4}).status == "ok"
    fail = judge("time.offset", result, params, {"warn_s": 1, "fail_s": 2})
    assert (fail.status, fail.value) == ("fail", -2.5)
    error = judge("time.offset", recorded("time.check-no-server"), params)
    assert error.status == "error" and error.message.startswith("not_supported")


def test_an_unexpected_result_shape_is_an_error_not_an_exception() -> None:
    odd = ActionResult(data={"filesystem": {"total": "lots"}})
    assert judge("disk.free", odd, {}).status == "error"


def test_evidence_is_bounded() -> None:
    big = ActionResult(output="x" * 60_000, data={"blob": "y" * 100_000})
    proof = evidence("disk.usage", {"path": "/"}, big)
    assert len(proof["output"]) == 4096 and "omitted" in proof["data"]
    assert proof["action"] == "disk.usage" and proof["error"] is None


def test_schedule_validation() -> None:
    validate_schedule(60, None)
    validate_schedule(None, "*/5 * * * *")
    for interval, cron, field in [
        (None, None, "interval_s"),
        (60, "* * * * *", "interval_s"),
        (0, None, "interval_s"),
        (None, "every minute", "cron"),
        (None, "* * * * * *", "cron"),
    ]:
        with pytest.raises(CatalogueError) as caught:
            validate_schedule(interval, cron)
        assert caught.value.field == field


def test_next_cron_is_utc() -> None:
    # 2026-01-01T00:07:00Z -> the next */15 is 00:15:00Z.
    start = 1767225600 + 7 * 60
    assert next_cron("*/15 * * * *", start) == 1767225600 + 15 * 60
