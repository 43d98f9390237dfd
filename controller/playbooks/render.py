"""Templates and conditions in a sandbox: Jinja2's immutable sandbox with strict undefineds.

A parameter that is one `{{ expression }}` and nothing else keeps the expression's type (a
number stays a number, a list a list); any other text renders to a string. Expressions and
templates are compiled once and cached by their source.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_WHOLE = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}).)*)\}\}$", re.DOTALL)


class RenderError(ValueError):
    """A template or expression that does not compile or does not evaluate."""


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


@functools.lru_cache(maxsize=2048)
def expression(source: str) -> Callable[..., Any]:
    """A compiled expression (`result.ok and inputs.force`), called with the context."""
    try:
        return _ENV.compile_expression(source, undefined_to_none=False)
    except TemplateError as exc:
        raise RenderError(f"bad expression {source!r}: {exc}") from None


@functools.lru_cache(maxsize=2048)
def _template(source: str) -> Any:
    try:
        return _ENV.from_string(source)
    except TemplateError as exc:
        raise RenderError(f"bad template {source!r}: {exc}") from None


def compile_value(value: Any) -> None:
    """Compile every template in a parameter value (raises RenderError), at load time."""
    if isinstance(value, str) and is_template(value):
        whole = _WHOLE.match(value)
        if whole:
            expression(whole["expr"])
        else:
            _template(value)
    elif isinstance(value, dict):
        for item in value.values():
            compile_value(item)
    elif isinstance(value, list):
        for item in value:
            compile_value(item)


def evaluate(source: str, context: dict[str, Any]) -> Any:
    try:
        value = expression(source)(**context)
        _touch(value)
        return value
    except RenderError:
        raise
    except Exception as exc:  # UndefinedError, SecurityError, TypeError...: the message says
        raise RenderError(f"{source!r}: {exc}") from None


def _touch(value: Any) -> None:
    """Undefineds (strict or unsafe) fail only when used: use them here."""
    if isinstance(value, StrictUndefined):
        str(value)


def truthy(source: str, context: dict[str, Any]) -> bool:
    return bool(evaluate(source, context))


def render(value: Any, context: dict[str, Any]) -> Any:
    """A parameter value with its templates filled in, recursively."""
    if isinstance(value, str) and is_template(value):
        whole = _WHOLE.match(value)
        if whole:
            return evaluate(whole["expr"], context)
        try:
            return str(_template(value).render(**context))
        except RenderError:
            raise
        except Exception as exc:
            raise RenderError(f"{value!r}: {exc}") from None
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value
