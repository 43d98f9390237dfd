"""Fixtures the in-process storage suites share: each module runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from databases import BACKENDS, fresh_database

from controller.settings import async_database_url
from controller.storage.db import SessionFactory, create_engine, session_factory
from controller.storage.migrate import upgrade


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh database per module and backend, as an async SQLAlchemy URL."""
    with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        yield async_database_url(url)


@pytest.fixture
async def sessions(database: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database)
    await upgrade(engine)
    yield session_factory(engine)
    await engine.dispose()
