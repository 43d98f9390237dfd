"""A real Chromium for the console tests: Debian's, driven by Playwright.

Playwright's own browser download cannot be reached here, so it launches /usr/bin/chromium
(.ci/run installs it). Locally, without it, the console suites skip with that reason; under
CI=true they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from databases import fresh_database

CHROMIUM = "/usr/bin/chromium"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not shutil.which(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Per module: sync Playwright runs an event loop of its own while it is open, and the
    asyncio suites that follow need the thread without one."""
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module", name="database")
def sqlite_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The console suites' database: SQLite alone. The console is a client of the API,
    which the storage suites test on both backends. Import it into a module to use it."""
    with fresh_database("sqlite", tmp_path_factory.mktemp("sqlite")) as url:
        yield url


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context at a desktop's 1280 px."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    """A fresh browser context the size of a phone (390 px wide)."""
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def sign_in(page: Any, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)
