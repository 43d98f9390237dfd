"""Administration: users, teams, sites, SLA policies and agent enrolment tokens.

Each section shows its recent changes from the audit trail beside its list. That read needs
audit:read, which the API grants admins and auditors only, so a desk analyst who opens an
admin page gets the API's 403 ("Not allowed"), and every change is the API's to refuse too;
the console decides nothing. The enrolment page alone skips the trail: site administrators
(usa) enrol agents without reading the audit trail.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from controller.access.roles import Role
from controller.console.api import ConsoleApi
from controller.console.pages import (
    Api,
    Me,
    form_int,
    form_ints,
    form_lists,
    form_of,
    is_htmx,
    render,
)
from controller.desk.config import BREACH_ACTIONS

router = APIRouter(prefix="/admin")
SECTIONS = {  # path -> (tab title, audit object type)
    "users": ("Users", "user"),
    "teams": ("Teams", "team"),
    "sites": ("Sites", "site"),
    "sla": ("SLA policies", "sla_policy"),
}
SESSION_EVENTS = ("login", "logout")  # users' own sign-ins are not changes to them


async def _all(api: ConsoleApi, path: str) -> list[dict[str, Any]]:
    return list((await api.get(path, limit=500))["items"])


async def _changes(api: ConsoleApi, object_type: str) -> list[dict[str, Any]]:
    events = (await api.get("/audit", object_type=object_type, limit=50))["items"]
    return [e for e in events if e["action"] not in SESSION_EVENTS][:10]


async def _section_data(api: ConsoleApi, section: str) -> dict[str, Any]:
    sites = await _all(api, "/sites")
    data: dict[str, Any] = {"sites": sites, "site_names": {s["id"]: s["name"] for s in sites}}
    if section in ("users", "teams"):
        data["users"] = await _all(api, "/users")
        data["user_names"] = {u["id"]: u["full_name"] or u["username"] for u in data["users"]}
        data["roles"] = [role.value for role in Role]
    if section == "teams":
        data["teams"] = await _all(api, "/teams")
    if section == "sla":
        data["policies"] = await _all(api, "/sla-policies")
        categories = await _all(api, "/categories")
        data["categories"] = categories
        data["category_paths"] = {c["id"]: c["path"] for c in categories}
        data["calendars"] = await _all(api, "/calendars")
        data["breach_actions"] = BREACH_ACTIONS
    return data


async def section_page(request: Request, api: ConsoleApi, section: str) -> HTMLResponse:
    """The whole page on a GET; after an htmx change only the section, which replaces
    #admin (the htmx error path retargets to #alerts, so no hx-select may drop it)."""
    title, object_type = SECTIONS[section]
    changes = await _changes(api, object_type)  # first: it is the read only admins may make
    return render(
        request,
        api,
        f"_admin_{section}.html" if is_htmx(request) else "admin.html",
        section="admin",
        tab=section,
        tabs=SECTIONS,
        title=title,
        changes=changes,
        clear_alerts=is_htmx(request),
        **await _section_data(api, section),
    )


@router.get("", response_class=HTMLResponse)
async def admin_home() -> Response:
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/enrollment", response_class=HTMLResponse)
async def enrollment_page(request: Request, api: Api, me: Me) -> HTMLResponse:
    return render(
        request,
        api,
        "admin.html",
        section="admin",
        tab="enrollment",
        tabs=SECTIONS,
        title="Enrol agents",
        sites=await _all(api, "/sites"),
    )


@router.get("/{section}", response_class=HTMLResponse)
async def show_section(request: Request, api: Api, me: Me, section: str) -> Response:
    if section not in SECTIONS:
        return RedirectResponse("/admin/users", status_code=303)
    return await section_page(request, api, section)


# Users ---------------------------------------------------------------------------------------


def _user_fields(form: dict[str, str], lists: dict[str, list[str]]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "role": form.get("role", ""),
        "site_ids": form_ints(lists.get("site_ids", [])),
        "full_name": form.get("full_name", ""),
        "email": form.get("email", ""),
    }
    if form.get("password"):  # blank: keep the password (or, new, an API-token-only user)
        body["password"] = form["password"]
    return body


@router.post("/users", response_class=HTMLResponse)
async def create_user(request: Request, api: Api, me: Me) -> HTMLResponse:
    form, lists = await form_of(request), await form_lists(request)
    await api.post("/users", {"username": form.get("username", ""), **_user_fields(form, lists)})
    return await section_page(request, api, "users")


@router.post("/users/{user_id}", response_class=HTMLResponse)
async def update_user(request: Request, api: Api, me: Me, user_id: int) -> HTMLResponse:
    form, lists = await form_of(request), await form_lists(request)
    await api.patch(f"/users/{user_id}", _user_fields(form, lists))
    return await section_page(request, api, "users")


@router.post("/users/{user_id}/access", response_class=HTMLResponse)
async def set_user_access(request: Request, api: Api, me: Me, user_id: int) -> HTMLResponse:
    form = await form_of(request)
    await api.patch(f"/users/{user_id}", {"disabled": form.get("disabled") == "true"})
    return await section_page(request, api, "users")


# Teams ---------------------------------------------------------------------------------------


def _team_fields(form: dict[str, str], lists: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "email": form.get("email", ""),
        "assignment": form.get("assignment", "manual"),
        "lead_id": form_int(form.get("lead_id")),
        "member_ids": form_ints(lists.get("member_ids", [])),
        "is_vendor": form.get("is_vendor") == "on",
        "vendor_contact": form.get("vendor_contact", ""),
    }


@router.post("/teams", response_class=HTMLResponse)
async def create_team(request: Request, api: Api, me: Me) -> HTMLResponse:
    await api.post("/teams", _team_fields(await form_of(request), await form_lists(request)))
    return await section_page(request, api, "teams")


@router.post("/teams/{team_id}", response_class=HTMLResponse)
async def update_team(request: Request, api: Api, me: Me, team_id: int) -> HTMLResponse:
    body = _team_fields(await form_of(request), await form_lists(request))
    await api.patch(f"/teams/{team_id}", body)
    return await section_page(request, api, "teams")


@router.post("/teams/{team_id}/delete", response_class=HTMLResponse)
async def delete_team(request: Request, api: Api, me: Me, team_id: int) -> HTMLResponse:
    await api.delete(f"/teams/{team_id}")
    return await section_page(request, api, "teams")


# Sites ---------------------------------------------------------------------------------------


def _site_fields(form: dict[str, str]) -> dict[str, Any]:
    return {
        "name": form.get("name", ""),
        "address": form.get("address", ""),
        "hours": form.get("hours", ""),
        "timezone": form.get("timezone") or "UTC",
    }


@router.post("/sites", response_class=HTMLResponse)
async def create_site(request: Request, api: Api, me: Me) -> HTMLResponse:
    await api.post("/sites", _site_fields(await form_of(request)))
    return await section_page(request, api, "sites")


@router.post("/sites/{site_id}", response_class=HTMLResponse)
async def update_site(request: Request, api: Api, me: Me, site_id: int) -> HTMLResponse:
    await api.patch(f"/sites/{site_id}", _site_fields(await form_of(request)))
    return await section_page(request, api, "sites")


@router.post("/sites/{site_id}/delete", response_class=HTMLResponse)
async def delete_site(request: Request, api: Api, me: Me, site_id: int) -> HTMLResponse:
    await api.delete(f"/sites/{site_id}")
    return await section_page(request, api, "sites")


# SLA policies ----------------------------------------------------------------------------------


def _seconds(value: str | None, unit_s: int) -> int | None:
    """Forms ask for minutes or hours, the API for seconds; blank or junk goes as null for
    the API to name the field."""
    try:
        return round(float(value or "") * unit_s)
    except ValueError:
        return None


def _policy_fields(form: dict[str, str], lists: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "name": form.get("name", ""),
        "priority": form_int(form.get("priority")),
        "site_id": form_int(form.get("site_id")),
        "category_id": form_int(form.get("category_id")),
        "own_within_s": _seconds(form.get("own_within_min"), 60),
        "resolve_within_s": _seconds(form.get("resolve_within_min"), 60),
        "calendar_id": form_int(form.get("calendar_id")),
        "use_site_timezone": form.get("use_site_timezone") == "on",
        "warn_at_percent": form_int(form.get("warn_at_percent")),
        "breach_actions": [a for a in lists.get("breach_actions", []) if a],
    }


@router.post("/sla", response_class=HTMLResponse)
async def create_policy(request: Request, api: Api, me: Me) -> HTMLResponse:
    body = _policy_fields(await form_of(request), await form_lists(request))
    await api.post("/sla-policies", body)
    return await section_page(request, api, "sla")


@router.post("/sla/{policy_id}", response_class=HTMLResponse)
async def update_policy(request: Request, api: Api, me: Me, policy_id: int) -> HTMLResponse:
    body = _policy_fields(await form_of(request), await form_lists(request))
    await api.patch(f"/sla-policies/{policy_id}", body)
    return await section_page(request, api, "sla")


@router.post("/sla/{policy_id}/delete", response_class=HTMLResponse)
async def delete_policy(request: Request, api: Api, me: Me, policy_id: int) -> HTMLResponse:
    await api.delete(f"/sla-policies/{policy_id}")
    return await section_page(request, api, "sla")


# Enrolment -----------------------------------------------------------------------------------


@router.post("/enrollment", response_class=HTMLResponse)
async def create_enrollment_token(request: Request, api: Api, me: Me) -> HTMLResponse:
    form = await form_of(request)
    body = {
        "site_id": form_int(form.get("site_id")),
        "tags": [t.strip() for t in form.get("tags", "").split(",") if t.strip()],
        "ttl_s": _seconds(form.get("ttl_hours"), 3600),
    }
    issued = await api.post("/enrollment-tokens", body)
    return render(request, api, "_admin_enrollment_token.html", issued=issued)
