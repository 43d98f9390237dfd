"""A WinRM endpoint through a real controller: enrolled over the API, read, and run on.

The far end is the WS-Man emulator (tests/winrm_emulator.py), built from pywinrm's recorded
envelopes; no Windows machine exists here (docs/WINRM.md says what that does not prove).
The controller, its API, its run path and pywinrm's HTTP and WS-Man work are real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import ControllerProcess
from winrm_emulator import WinrmEmulator

SERVICE = (
    Path(__file__).parents[1] / "recorded" / "windows" / "actions" / "get-service-running.json"
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[WinrmEmulator]:
    with WinrmEmulator() as emu:
        emu.answer_inventory()
        emu.answer("Get-Service -Name $P.name", SERVICE.read_text())
        yield emu


def _enrolment(emu: WinrmEmulator, **changes: Any) -> dict[str, Any]:
    return {
        "transport": "winrm",
        "hostname": "desk-0042",
        "address": "127.0.0.1",
        "port": emu.port,
        "username": emu.username,
        "password": emu.password,
        "winrm_auth": "basic",
        # The emulator's certificate is self-signed: a lab setting, said out loud.
        "winrm_validate_certificate": False,
        **changes,
    }


def test_a_winrm_endpoint_is_enrolled_read_and_run_on(
    controller: ControllerProcess, emulator: WinrmEmulator
) -> None:
    with controller.client() as client:
        created = client.post("/endpoints", json=_enrolment(emulator))
        assert created.status_code == 201, created.text
        endpoint = created.json()
        assert endpoint["connectivity"]["ok"], endpoint["connectivity"]
        assert endpoint["transport"] == "winrm" and endpoint["os_family"] == "windows"
        assert emulator.password not in created.text
        assert endpoint["remote"]["options"]["winrm"]["server_cert_validation"] == "ignore"
        sections = client.get(f"/endpoints/{endpoint['id']}/inventory").json()["sections"]
        assert sections["services"]["manager"] == "windows"
        runs = client.post(
            "/runs",
            params={"wait_s": 30},
            json={
                "action": "service.status",
                "params": {"name": "Spooler"},
                "endpoint_id": endpoint["id"],
            },
        )
        assert runs.status_code == 201, runs.text
        (run,) = runs.json()["items"]
    assert run["state"] == "succeeded", run
    assert run["result"]["data"]["state"] == "running"
    # The parameter went inside the script's base64 blob, never into its text.
    asked = [c for c in emulator.commands if "Get-Service -Name $P.name" in (c.script or "")]
    assert asked and asked[-1].params == {"name": "Spooler"}


def test_bad_credentials_and_unsafe_settings(
    controller: ControllerProcess, emulator: WinrmEmulator
) -> None:
    with controller.client() as client:
        wrong = client.post(
            "/endpoints", json=_enrolment(emulator, hostname="desk-0043", password="nope")
        )
        assert wrong.status_code == 201, wrong.text
        assert wrong.json()["connectivity"]["code"] == "authentication_failed"
        assert not wrong.json()["online"]
        unsafe = client.post(
            "/endpoints",
            json=_enrolment(emulator, hostname="desk-0044", winrm_scheme="http"),
        )
        assert unsafe.status_code == 422, unsafe.text
        assert unsafe.json()["detail"][0]["loc"] == ["body", "winrm_auth"]
