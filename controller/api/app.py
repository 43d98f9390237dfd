"""The FastAPI application: REST under /api/v1, OpenAPI at /docs, the console at /."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from controller import __version__
from controller.api.errors import install_error_handlers
from controller.api.request_id import RequestIdMiddleware
from controller.api.routes import (
    actions,
    agentless,
    audit,
    auth,
    automation,
    calendars,
    categories,
    checks,
    endpoints,
    enrollment_tokens,
    fleet,
    health,
    inventory_changes,
    kb,
    me,
    playbooks,
    reports,
    routing_rules,
    runs,
    self_service,
    sites,
    sla_policies,
    surveys,
    teams,
    ticket_files,
    tickets,
    tokens,
    users,
    webhooks,
)
from controller.console.app import mount_console
from controller.container import Controller


def create_app(controller: Controller) -> FastAPI:
    app = FastAPI(
        title="deskside",
        version=__version__,
        description="The help desk's remote hands: endpoints, inventory, runs and tickets.",
        openapi_url="/api/v1/openapi.json",
    )
    app.state.controller = controller
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1")
    for module in (
        health,
        auth,
        me,
        agentless,  # before endpoints: POST /endpoints is here
        endpoints,
        inventory_changes,
        fleet,
        enrollment_tokens,
        runs,
        actions,
        playbooks,
        sites,
        users,
        teams,
        tokens,
        audit,
        ticket_files,  # before tickets: /tickets/export.csv is not a ticket id
        tickets,
        kb,
        categories,
        calendars,
        sla_policies,
        routing_rules,
        webhooks,
        checks,
        automation,
        reports,
        surveys,
        self_service,
    ):
        api.include_router(module.router)
    api.include_router(tickets.queue_router)
    app.include_router(api)
    mount_console(app)
    app.add_middleware(RequestIdMiddleware)
    return app
