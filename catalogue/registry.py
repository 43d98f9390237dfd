"""Look actions up by name and validate their parameters, with errors that name the field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from catalogue.actions import SPECS
from catalogue.spec import ActionSpec

CATALOGUE: dict[str, ActionSpec] = {spec.name: spec for spec in SPECS}
MAX_PARAMS_BYTES = 64 * 1024


class CatalogueError(ValueError):
    """Bad action name or parameters; field is a dotted path (params.path, action)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def get(name: str) -> ActionSpec:
    spec = CATALOGUE.get(name)
    if spec is None:
        raise CatalogueError("action", f"unknown action {name[:100]!r}")
    return spec


def validate(name: str, params: dict[str, Any] | None, *, size: int = 0) -> BaseModel:
    """The action's parameters as its model; size is the raw JSON's length, when known."""
    spec = get(name)
    if size > MAX_PARAMS_BYTES:
        raise CatalogueError("params", f"larger than {MAX_PARAMS_BYTES} bytes")
    try:
        return spec.params.model_validate(params or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        field = f"params.{where}" if where else "params"
        raise CatalogueError(field, first["msg"].removeprefix("Value error, ")) from None
