"""run_probe/read_file behaviour and the slow-result cache."""

import sys
from pathlib import Path

import pytest

from agent.inventory.cache import SlowResult
from agent.inventory.runner import read_file, run_probe


def test_run_probe_returns_stdout_with_c_locale() -> None:
    out = run_probe([sys.executable, "-c", "import os; print(os.environ['LC_ALL'])"])
    assert out == "C\n"


def test_run_probe_missing_binary_is_none() -> None:
    assert run_probe(["deskside-no-such-command-xyz"]) is None


def test_run_probe_failure_is_none() -> None:
    assert run_probe([sys.executable, "-c", "print('partial'); raise SystemExit(3)"]) is None


def test_run_probe_timeout_is_none() -> None:
    assert run_probe([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2) is None


def test_run_probe_does_not_use_a_shell() -> None:
    # With a shell, the semicolon would split this into two commands.
    assert run_probe(["echo", "a; echo b"]) == "a; echo b\n"


def test_read_file(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("hello", encoding="utf-8")
    assert read_file(str(path)) == "hello"
    assert read_file(str(tmp_path / "missing")) is None


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, object]:
        self.calls += 1
        return {"n": self.calls}


def test_slow_result_cached_within_interval() -> None:
    load = Counter()
    cache = SlowResult(load, refresh_s=3600)
    assert cache.get() == {"n": 1}
    assert cache.get() == {"n": 1}
    assert load.calls == 1


def test_slow_result_reloads_when_due_without_stamp() -> None:
    load = Counter()
    cache = SlowResult(load, refresh_s=0)
    cache.get()
    assert cache.get() == {"n": 2}


@pytest.mark.parametrize(
    ("stamps", "calls"), [((1, 1, 1), 1), ((1, 2, 2), 2), ((None, None, None), 3)]
)
def test_slow_result_reloads_only_when_stamp_moves(stamps: tuple[object, ...], calls: int) -> None:
    load = Counter()
    pending = list(stamps)
    cache = SlowResult(load, refresh_s=0, stamp=lambda: pending.pop(0))
    for _ in stamps:
        cache.get()
    assert load.calls == calls


def test_slow_result_does_not_stat_within_interval() -> None:
    stamps = Counter()
    cache = SlowResult(Counter(), refresh_s=3600, stamp=lambda: stamps()["n"])
    cache.get()
    cache.get()
    assert stamps.calls == 1
