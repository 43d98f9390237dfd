"""Mount the console and the portal on the controller's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from controller.console import (
    admin_pages,
    auth_pages,
    dashboard_pages,
    endpoint_pages,
    fleet_pages,
    kb_pages,
    pages,
    portal_pages,
    queue_pages,
    run_panel,
    ticket_pages,
)
from controller.console.pages import HERE
from controller.console.security import SecurityHeaders


def mount_console(app: FastAPI) -> None:
    for module in (
        auth_pages,
        queue_pages,
        ticket_pages,
        run_panel,
        kb_pages,
        admin_pages,
        endpoint_pages,
        fleet_pages,
        dashboard_pages,
        portal_pages,
    ):
        app.include_router(module.router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    pages.install(app)
    app.add_middleware(SecurityHeaders)
