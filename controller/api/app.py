"""The FastAPI application: REST under /api/v1, OpenAPI at /docs."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from controller import __version__
from controller.api.errors import install_error_handlers
from controller.api.routes import endpoints, enrollment_tokens, health, sites
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
    for module in (health, endpoints, enrollment_tokens, sites):
        api.include_router(module.router)
    app.include_router(api)
    return app
