from __future__ import annotations

from pathlib import Path

import pytest

from agent.spool import Spool


def test_appends_in_order_and_forgets_what_is_acknowledged(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=1 << 20)
    seqs = [spool.append(f"m{i}".encode()) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    spool.ack(3)
    assert [s for s, _ in spool.pending()] == [4, 5]
    assert [p for _, p in spool.pending(after=4)] == [b"m4"]
    spool.ack(2)  # an old ack changes nothing
    assert spool.last_acked == 3


def test_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=1 << 20)
    for i in range(3):
        spool.append(bytes([i]))
    spool.ack(1)
    spool.close()
    again = Spool(tmp_path / "s.db", max_bytes=1 << 20)
    assert [s for s, _ in again.pending()] == [2, 3]
    assert again.append(b"x") == 4
    assert again.pending_bytes == 3


def test_bounded_by_bytes_dropping_the_oldest(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=100)
    for _ in range(10):
        spool.append(b"x" * 30)
    kept = [s for s, _ in spool.pending()]
    assert kept == [8, 9, 10]
    assert spool.dropped == 7
    assert spool.pending_bytes == 90


def test_never_drops_the_newest_even_when_it_alone_is_too_big(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=10)
    spool.append(b"a" * 50)
    assert [s for s, _ in spool.pending()] == [1]


def test_renumbers_after_the_controller_when_local_state_was_lost(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=1 << 20)
    spool.append(b"a")
    spool.append(b"b")
    # The controller already stored #40 from this endpoint's earlier life.
    spool.continue_after(40)
    assert [(s, p) for s, p in spool.pending()] == [(41, b"a"), (42, b"b")]
    assert spool.append(b"c") == 43


def test_continue_after_a_known_sequence_acknowledges_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=1 << 20)
    for payload in (b"a", b"b", b"c"):
        spool.append(payload)
    spool.continue_after(2)
    assert [s for s, _ in spool.pending()] == [3]


def test_a_failed_renumbering_leaves_the_spool_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=1 << 20)
    spool.append(b"a")
    spool.append(b"b")
    real_set_meta = spool._set_meta

    def crash(key: str, value: int) -> None:
        real_set_meta(key, value)
        if key == "last_seq":
            raise RuntimeError("power cut")

    monkeypatch.setattr(spool, "_set_meta", crash)
    with pytest.raises(RuntimeError):
        spool.continue_after(40)
    monkeypatch.undo()
    assert [(s, p) for s, p in spool.pending()] == [(1, b"a"), (2, b"b")]
    assert spool.last_seq == 2
