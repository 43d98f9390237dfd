"""Fixtures shared by the integration suites: one real controller per module and backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from databases import BACKENDS, fresh_database
from processes import ControllerProcess


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        yield url


@pytest.fixture(scope="module")
def controller(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControllerProcess]:
    process = ControllerProcess(tmp_path_factory.mktemp("controller"), database).start()
    yield process
    assert process.stop() == 0, process.log()
    assert "stopped" in process.log()
