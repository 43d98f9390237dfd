"""The demo's desk, made through the REST API as the bootstrap admin: sites, teams, one
user per role (with a fresh password each run), SLA policies, knowledge base articles,
health checks and tickets about the demo's own endpoints."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

# Who the tour signs in as; the role decides what each one sees.
PEOPLE = (
    ("ana", "tier1", "Ana Alvarez", "HQ"),
    ("ben", "tier2", "Ben Brooks", "HQ"),
    ("uma", "usa", "Uma Umeh", "Branch"),
    ("rita", "requester", "Rita Reyes", "Branch"),
    ("admin", "admin", "Demo Admin", "HQ"),
)
SITES = (
    ("HQ", "1 Main Street", "Europe/London"),
    ("Branch", "22 Harbour Road", "Europe/London"),
)
# (name, description, members); "Desktop Support" is where shipped playbooks escalate.
TEAMS = (
    ("Service Desk", "First line: phones, portal, quick fixes.", ("ana",)),
    ("Tier 2", "Second line: what the service desk hands over.", ("ben",)),
    ("Application Support", "Line-of-business applications and mail.", ("ben",)),
    ("Desktop Support", "Where playbooks that cannot fix a PC hand it over.", ("ben",)),
)
# priority: (own within, resolve within), in minutes
SLA_MINUTES = {1: (15, 240), 2: (30, 480), 3: (60, 1440), 4: (240, 4320), 5: (1440, 14400)}
# (title, body in Markdown, tags, playbooks it points to)
ARTICLES: tuple[tuple[str, str, list[str], list[str]], ...] = (
    (
        "The disk is full: clearing a temp directory",
        "When a PC says its disk is full, a temp or cache directory is usually to blame.\n\n"
        "1. Open the ticket and check the linked endpoint.\n"
        "2. Run the **disk-full-temp** playbook with the directory as `path`.\n"
        "3. The playbook measures, deletes old files and verifies; it escalates to "
        "Desktop Support if the directory stays too big.",
        ["disk", "temp"],
        ["disk-full-temp"],
    ),
    (
        "A program eats the CPU",
        "A runaway process makes a PC slow and loud. The **runaway-process** playbook finds "
        "it by name, stops it (TERM, then KILL) and verifies it is gone. Health checks run "
        "it by themselves when a process that must not run appears.",
        ["cpu", "slow"],
        ["runaway-process"],
    ),
    (
        "Resetting a password over the phone",
        "Confirm the caller's identity with two facts from the directory before any reset. "
        "Never read a password out; send the reset link to the registered address.",
        ["password", "account"],
        [],
    ),
)


class SeedError(RuntimeError):
    """The API refused something the seed asked for (the message names what and why)."""


@dataclass
class Seeded:
    """What the seed made, for the banner, the JSON report and the tests."""

    url: str
    sites: dict[str, int] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    sla_policies: list[int] = field(default_factory=list)
    articles: list[int] = field(default_factory=list)
    checks: list[int] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "console": f"{self.url}/",
            "sites": self.sites,
            "teams": self.teams,
            "users": self.users,
            "sla_policies": self.sla_policies,
            "kb_articles": self.articles,
            "checks": self.checks,
            "tickets": self.tickets,
            "endpoints": self.endpoints,
            "faults": self.faults,
        }


class AdminApi:
    """POST and GET as the bootstrap admin; a refusal stops the seed with the API's reason."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.client.request(method, path, json=body or {})
        if response.status_code >= 400:
            raise SeedError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.send("POST", path, body)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.client.get(path, params=params)
        if response.status_code >= 400:
            raise SeedError(f"GET {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def close(self) -> None:
        self.client.close()


def _user_named(api: AdminApi, username: str) -> dict[str, Any]:
    for user in api.get("/users", {"limit": 1000})["items"]:
        if user["username"] == username:
            return dict(user)
    raise SeedError(f"no user named {username!r}")


def seed_sites(api: AdminApi, seeded: Seeded) -> None:
    """Sites first: agents enrol into them."""
    for name, address, timezone in SITES:
        site = api.post("/sites", {"name": name, "address": address, "timezone": timezone})
        seeded.sites[name] = site["id"]


def seed_people(api: AdminApi, seeded: Seeded) -> None:
    """Users (one per role), teams, SLA policies and the knowledge base."""
    for username, role, full_name, site in PEOPLE:
        password = f"{username}-{secrets.token_urlsafe(6)}"
        details = {
            "password": password,
            "full_name": full_name,
            "email": f"{username}@example.com",
        }
        if username == "admin":
            # The controller made the bootstrap admin (no password: API tokens only).
            admin = _user_named(api, "admin")
            user = api.send("PATCH", f"/users/{admin['id']}", details)
        else:
            site_ids = [seeded.sites[site]] if role == "usa" else []
            body = {"username": username, "role": role, "site_ids": site_ids, **details}
            user = api.post("/users", body)
        seeded.users[username] = {"id": user["id"], "role": role, "password": password}
    for name, description, members in TEAMS:
        ids = [seeded.users[m]["id"] for m in members]
        team = api.post(
            "/teams",
            {"name": name, "description": description, "member_ids": ids, "lead_id": ids[0]},
        )
        seeded.teams[name] = team["id"]
    for priority, (own_min, resolve_min) in SLA_MINUTES.items():
        policy = api.post(
            "/sla-policies",
            {
                "name": f"Standard P{priority}",
                "priority": priority,
                "own_within_s": own_min * 60,
                "resolve_within_s": resolve_min * 60,
            },
        )
        seeded.sla_policies.append(policy["id"])
    for title, text, tags, playbooks in ARTICLES:
        article = api.post(
            "/kb", {"title": title, "body": text, "tags": tags, "playbooks": playbooks}
        )
        api.post(f"/kb/{article['id']}/publish")
        seeded.articles.append(article["id"])


def seed_tickets(api: AdminApi, seeded: Seeded, disk_full: dict[str, Any] | None) -> None:
    """Tickets as callers raised them: one about the full disk the fault made (for the tour's
    fix from the ticket page), and a few ordinary ones for the queues."""
    rita = seeded.users["rita"]["id"]
    desk = seeded.teams["Service Desk"]
    drafts: list[dict[str, Any]] = []
    if disk_full is not None:
        drafts.append(
            {
                "title": "My PC says the disk is full",
                "description": "A box keeps popping up about low disk space and Excel will "
                f"not save. (Desk note: the temp directory is {disk_full['path']}.)",
                "channel": "portal",
                "impact": 2,
                "urgency": 2,
                "requester_id": rita,
                "team_id": desk,
                "site_id": seeded.sites["Branch"],
                "endpoint_ids": [disk_full["endpoint_id"]],
            }
        )
    first = seeded.endpoints[0]["id"] if seeded.endpoints else None
    drafts += [
        {
            "title": "Outlook asks for my password again and again",
            "description": "Since this morning, every few minutes.",
            "channel": "phone",
            "impact": 3,
            "urgency": 2,
            "requester_id": rita,
            "team_id": seeded.teams["Application Support"],
            "endpoint_ids": [first] if first else [],
        },
        {
            "title": "New starter needs a laptop on Monday",
            "description": "Sam joins Finance at HQ.",
            "type": "service_request",
            "channel": "email",
            "requester_id": rita,
            "team_id": desk,
            "site_id": seeded.sites["HQ"],
        },
        {
            "title": "Printer on floor 2 prints blank pages",
            "channel": "walk_in",
            "impact": 2,
            "urgency": 3,
            "team_id": desk,
            "site_id": seeded.sites["Branch"],
        },
    ]
    for draft in drafts:
        ticket = api.post("/tickets", draft)
        seeded.tickets.append(
            {
                "id": ticket["id"],
                "title": ticket["title"],
                "endpoint_ids": draft.get("endpoint_ids", []),
            }
        )


def seed_check(api: AdminApi, seeded: Seeded, body: dict[str, Any]) -> None:
    check = api.post("/checks", {"team_id": seeded.teams["Service Desk"], **body})
    seeded.checks.append(check["id"])
