"""net.ping's pure parts: the command line per OS, and the parser fed recorded outputs."""

from pathlib import Path

import pytest

from agent.actions.net_diagnostics import parse_ping, ping_argv

RECORDED = Path(__file__).resolve().parents[1] / "recorded"


def recorded(os_name: str, name: str) -> str:
    return (RECORDED / os_name / "actions" / name).read_text(encoding="utf-8")


def parsed(os_name: str, name: str) -> dict[str, object]:
    if name.endswith(".stderr.txt"):
        return parse_ping("", recorded(os_name, name))
    return parse_ping(recorded(os_name, name))


def test_argv_linux() -> None:
    assert ping_argv("linux", "10.0.0.1", 3, 5) == ["ping", "-c", "3", "-W", "5", "-n", "10.0.0.1"]
    # iputils takes whole seconds for -W: a fraction rounds up, never down to 0
    assert ping_argv("linux", "h", 1, 0.2)[4] == "1"
    assert ping_argv("linux", "h", 1, 2.5)[4] == "3"


def test_argv_macos_uses_a_deadline_for_the_whole_run() -> None:
    assert ping_argv("darwin", "10.0.0.1", 3, 5) == [
        "ping",
        "-c",
        "3",
        "-t",
        "7",
        "-n",
        "10.0.0.1",
    ]
    assert ping_argv("darwin", "::1", 2, 5) == ["ping6", "-c", "2", "-n", "::1"]


def test_argv_windows_waits_in_milliseconds() -> None:
    assert ping_argv("win32", "10.0.0.1", 4, 2.5) == ["ping", "-n", "4", "-w", "2500", "10.0.0.1"]


@pytest.mark.parametrize(
    ("os_name", "name", "expected"),
    [
        (
            "linux",
            "ping-loopback.txt",
            {"address": "127.0.0.1", "sent": 3, "received": 3, "loss_percent": 0.0}
            | {"rtt_min_ms": 0.027, "rtt_avg_ms": 0.028, "rtt_max_ms": 0.03, "error": None},
        ),
        (
            "linux",
            "ping-ipv6-loopback.txt",
            {"address": "::1", "sent": 3, "received": 3, "loss_percent": 0.0}
            | {"rtt_min_ms": 0.026, "rtt_avg_ms": 0.052, "rtt_max_ms": 0.079, "error": None},
        ),
        (
            "linux",
            "ping-partial-loss.txt",
            {"address": "10.20.0.15", "sent": 6, "received": 4, "loss_percent": 33.3}
            | {"rtt_min_ms": 2.953, "rtt_avg_ms": 24.408, "rtt_max_ms": 87.204, "error": None},
        ),
        (
            "linux",
            "ping-busybox.txt",
            {"address": "10.20.0.15", "sent": 3, "received": 3, "loss_percent": 0.0}
            | {"rtt_min_ms": 0.387, "rtt_avg_ms": 0.418, "rtt_max_ms": 0.455, "error": None},
        ),
        (
            "macos",
            "ping-gateway.txt",
            {"address": "192.168.1.1", "sent": 3, "received": 3, "loss_percent": 0.0}
            | {"rtt_min_ms": 3.587, "rtt_avg_ms": 4.536, "rtt_max_ms": 5.902, "error": None},
        ),
        (
            "macos",
            "ping-partial-loss.txt",
            {"address": "10.20.0.21", "sent": 4, "received": 3, "loss_percent": 25.0}
            | {"rtt_min_ms": 19.87, "rtt_avg_ms": 22.107, "rtt_max_ms": 25.108, "error": None},
        ),
        (
            "windows",
            "ping-hostname-en.txt",
            {"address": "10.20.0.21", "sent": 3, "received": 3, "loss_percent": 0.0}
            | {"rtt_min_ms": 19.0, "rtt_avg_ms": 21.0, "rtt_max_ms": 25.0, "error": None},
        ),
        (
            "windows",
            "ping-loopback-en.txt",
            {"address": "127.0.0.1", "sent": 4, "received": 4, "loss_percent": 0.0}
            | {"rtt_min_ms": 0.0, "rtt_avg_ms": 0.0, "rtt_max_ms": 0.0, "error": None},
        ),
        (
            "windows",
            "ping-ipv6-en.txt",
            {"address": "::1", "sent": 2, "received": 2, "loss_percent": 0.0}
            | {"rtt_min_ms": 0.0, "rtt_avg_ms": 0.0, "rtt_max_ms": 0.0, "error": None},
        ),
        (
            "windows",
            "ping-partial-loss-de.txt",
            {"address": "10.20.0.15", "sent": 4, "received": 3, "loss_percent": 25.0}
            | {"rtt_min_ms": 3.0, "rtt_avg_ms": 4.0, "rtt_max_ms": 5.0, "error": None},
        ),
    ],
)
def test_replies(os_name: str, name: str, expected: dict[str, object]) -> None:
    assert parsed(os_name, name) == expected


@pytest.mark.parametrize(
    ("os_name", "name", "address", "sent", "error"),
    [
        (
            "linux",
            "ping-host-unreachable.txt",
            "10.20.0.99",
            3,
            "From 10.20.0.5 icmp_seq=1 Destination Host Unreachable",
        ),
        ("linux", "ping-no-reply.txt", "203.0.113.7", 3, "no reply"),
        (
            "macos",
            "ping-host-unreachable.txt",
            "10.20.0.99",
            3,
            "92 bytes from 10.20.0.5: Destination Host Unreachable",
        ),
        ("macos", "ping-timeout.txt", "203.0.113.7", 4, "Request timeout for icmp_seq 0"),
        # Windows counts "Destination host unreachable" answers as received: they are not echoes.
        (
            "windows",
            "ping-host-unreachable-en.txt",
            "10.20.0.99",
            3,
            "Reply from 10.20.0.5: Destination host unreachable.",
        ),
        ("windows", "ping-timeout-en.txt", "203.0.113.7", 3, "Request timed out."),
    ],
)
def test_no_replies(os_name: str, name: str, address: str, sent: int, error: str) -> None:
    found = parsed(os_name, name)
    assert found["address"] == address
    assert (found["sent"], found["received"], found["loss_percent"]) == (sent, 0, 100.0)
    assert found["rtt_min_ms"] is found["rtt_avg_ms"] is found["rtt_max_ms"] is None
    assert found["error"] == error


@pytest.mark.parametrize(
    ("os_name", "name", "error"),
    [
        (
            "linux",
            "ping-unknown-host.stderr.txt",
            "ping: nosuch.corp.example: Name or service not known",
        ),
        (
            "macos",
            "ping-unknown-host.stderr.txt",
            "ping: cannot resolve nosuch.corp.example: Unknown host",
        ),
        (
            "windows",
            "ping-unknown-host-en.txt",
            "Ping request could not find host nosuch.corp.example. Please check the name and "
            "try again.",
        ),
    ],
)
def test_unknown_host(os_name: str, name: str, error: str) -> None:
    found = parsed(os_name, name)
    assert (found["sent"], found["received"], found["address"]) == (None, 0, None)
    assert found["error"] == error


def test_nothing_at_all() -> None:
    assert parse_ping("", "")["error"] == "no reply"
    assert parse_ping("", "")["received"] == 0


def test_windows_replies_in_a_shape_we_do_not_know_trust_the_counts() -> None:
    # Made up: replies the parser cannot recognise, but a round-trip summary that
    # Windows only prints after real echoes; then the stated count stands.
    text = (
        "Pinging 10.0.0.1 with 32 bytes of data:\n"
        "Reply from 10.0.0.1, bytes 32, time 14 ms, TTL 117\n"
        "Reply from 10.0.0.1, bytes 32, time 16 ms, TTL 117\n\n"
        "Ping statistics for 10.0.0.1:\n"
        "    Packets: Sent = 3, Received = 2, Lost = 1 (33% loss),\n"
        "Approximate round trip times in milli-seconds:\n"
        "    Minimum = 14ms, Maximum = 16ms, Average = 15ms\n"
    )
    found = parse_ping(text)
    assert (found["sent"], found["received"], found["loss_percent"]) == (3, 2, 33.3)
    assert (found["rtt_min_ms"], found["rtt_avg_ms"], found["rtt_max_ms"]) == (14.0, 15.0, 16.0)
