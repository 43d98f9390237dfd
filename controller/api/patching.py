"""PATCH bodies: a field left out changes nothing; null is refused unless the field allows it."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ValidationInfo, field_validator


class PatchModel(BaseModel):
    # Fields where null is a value (e.g. "no lead"); everywhere else null is an error,
    # not a silent "unchanged" or a database failure.
    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("must not be null; leave the field out to keep it")
        return value
