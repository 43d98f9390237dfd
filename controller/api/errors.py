"""Map the controller's exception tree (and request validation) to HTTP responses.

Every error body has the same shape as FastAPI's own 422:
``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`` for field errors, and
``{"detail": "message"}`` for the others.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from controller.errors import (
    Conflict,
    DesksideError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from controller.transports.errors import TransportError

_STATUS: list[tuple[type[DesksideError], int]] = [
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (TransportError, 502),  # the endpoint behind us failed, not the request
]


def _response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DesksideError)
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
    if isinstance(exc, InvalidInput):
        body: object = [
            {"loc": ["body", *exc.field.split(".")], "msg": exc.reason, "type": "value_error"}
        ]
    else:
        body = str(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": body}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DesksideError, _response)
