"""Console page latency: what a page costs over the API calls it is made of.

Starts a real controller on SQLite (tests/processes.py), sets up the desk of
bench/desk_api.py (4 teams of 5 analysts, 20 requesters) and bulk-inserts --tickets tickets
(default 10,000) with its spread, then signs in as one of the busiest team's analysts, through
the console's own login form, with a real session cookie. Each page and its peer is then
fetched --requests times in turn (after --warmup fetches that are not counted), one at a time
on one keep-alive connection:

  GET /               the analyst's queue    peer: /api/v1/tickets?state=open&mine=true&limit=50
  GET /?view=team-1   the busiest team's     peer: /api/v1/tickets?state=open&team_id=1&limit=50
  GET /tickets/{id}   a random ticket's page peer: /api/v1/tickets/{id}

The peer is the main API call behind the page, with the same cookie: the difference is what
the console adds (its other API calls, in-process, and rendering). Figures are latency
percentiles in milliseconds. A benchmark, not a test: it prints figures and asserts nothing.

    python bench/console_pages.py [--tickets 10000] [--requests 300] [--warmup 30]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from desk_api import _ok, seed, set_up_desk  # noqa: E402
from processes import ControllerProcess  # noqa: E402
from report import render  # noqa: E402

PASSWORD = "bench console password"


def _percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] * 1000, cuts[94] * 1000


Path_ = str | Callable[[], str]


def _timed(client: httpx.Client, path: Path_, count: int) -> list[float]:
    took = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path() if callable(path) else path)
        took.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{response.request.url}: {response.status_code}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "desk.db"
        controller = ControllerProcess(Path(tmp) / "controller", f"sqlite:///{database}").start()
        try:
            with controller.client() as admin:
                desk = set_up_desk(admin)
                analyst = desk["analysts"][0][0]
                _ok(admin.patch(f"/users/{analyst}", json={"password": PASSWORD}), 200)
                username = _ok(admin.get(f"/users/{analyst}"), 200)["username"]
            seed(database, args.tickets, desk)
            rng = random.Random(7)
            with httpx.Client(base_url=controller.url, timeout=60) as browser:
                signed = browser.post(
                    "/login",
                    data={"username": username, "password": PASSWORD, "next": "/"},
                    headers={"Origin": controller.url},
                )
                if signed.status_code != 303:
                    raise RuntimeError(f"sign-in failed: {signed.status_code} {signed.text[:200]}")

                def ticket() -> str:
                    return f"/tickets/{rng.randint(1, args.tickets)}"

                def api_ticket() -> str:
                    return f"/api/v1{ticket()}"

                pairs: list[tuple[str, Path_, Path_]] = [
                    ("queue page (mine)", "/", "/api/v1/tickets?state=open&mine=true&limit=50"),
                    (
                        "queue page (team)",
                        "/?view=team-1",
                        "/api/v1/tickets?state=open&team_id=1&limit=50",
                    ),
                    ("ticket page", ticket, api_ticket),
                ]
                rows = [["GET", "p50 ms", "p95 ms", "API call p50/p95 ms", "page / API (p50)"]]
                for label, page, peer in pairs:
                    _timed(browser, page, args.warmup)
                    _timed(browser, peer, args.warmup)
                    page_p50, page_p95 = _percentiles(_timed(browser, page, args.requests))
                    api_p50, api_p95 = _percentiles(_timed(browser, peer, args.requests))
                    rows.append(
                        [
                            label,
                            f"{page_p50:.1f}",
                            f"{page_p95:.1f}",
                            f"{api_p50:.1f} / {api_p95:.1f}",
                            f"{page_p50 / api_p50:.1f}x",
                        ]
                    )
        finally:
            controller.stop()
    print(f"{args.tickets:,} tickets, {args.requests} requests each, one connection")
    print(render(rows))


if __name__ == "__main__":
    main()
