"""What a playbook is: inputs, steps of checks, actions and verifications, rollback, escalation.

Pydantic checks the shape; problems() checks what needs the whole playbook (unique step
ids, risk of checks, expressions that compile, parameters the catalogue accepts) and names
each problem by its path in the document, so the loader can point at the line.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalogue import CATALOGUE, CatalogueError, Risk
from catalogue import validate as validate_params
from controller.playbooks.render import RenderError, compile_value, expression, is_template

Path = tuple[str | int, ...]
INPUT_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "list": (list,),
}
STEP_ID = r"^[a-z][a-z0-9_]{0,49}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def input_type_ok(kind: str, value: Any) -> bool:
    if kind == "int" and isinstance(value, bool):
        return False
    return isinstance(value, INPUT_TYPES[kind])


class InputSpec(_Strict):
    type: Literal["str", "int", "bool", "list"] = "str"
    default: Any = None
    required: bool = False
    description: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _default_fits(self) -> InputSpec:
        if self.default is not None and not input_type_ok(self.type, self.default):
            raise ValueError(f"default {self.default!r} is not a {self.type}")
        return self


class Step(_Strict):
    id: str = Field(pattern=STEP_ID, description="unique in the playbook; a name, not a number")
    kind: Literal["check", "action", "verify"] = "action"
    action: str | None = Field(default=None, description="a catalogue action; a verify may omit it")
    params: dict[str, Any] = Field(default_factory=dict)
    when: str | None = Field(default=None, description="run only if this expression is true")
    expect: str | None = Field(default=None, description="on `result`; default `result.ok`")
    timeout_s: int = Field(default=120, ge=1, le=3600)
    continue_on_error: bool = False
    description: str = Field(default="", max_length=1000)

    @field_validator("action")
    @classmethod
    def _known(cls, action: str | None) -> str | None:
        if action is not None and action not in CATALOGUE:
            raise ValueError(f"unknown action {action}")
        return action

    @model_validator(mode="after")
    def _coherent(self) -> Step:
        if self.action is None and self.kind != "verify":
            raise ValueError(f"a {self.kind} step names its action")
        if self.action is None and self.expect is None:
            raise ValueError("a verify step without an action needs an expect expression")
        return self

    @property
    def risk(self) -> Risk:
        return CATALOGUE[self.action].risk if self.action else Risk.READ


class Escalate(_Strict):
    team: str = Field(min_length=1, max_length=100, description="a team's name")
    reason: str = Field(min_length=1, max_length=2000, description="may be a template")


class Playbook(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    description: str = Field(default="", max_length=4000)
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1, max_length=100)
    rollback: list[Step] = Field(default_factory=list, max_length=50)
    escalate: Escalate | None = None

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, inputs: dict[str, InputSpec]) -> dict[str, InputSpec]:
        for name in inputs:
            if not name.isidentifier():
                raise ValueError(f"input name {name!r} is not an identifier")
        return inputs

    @property
    def high_risk(self) -> bool:
        return any(s.risk is Risk.HIGH for s in (*self.steps, *self.rollback))


def _params_problems(step: Step, where: Path) -> list[tuple[Path, str]]:
    assert step.action is not None
    model = CATALOGUE[step.action].params
    found: list[tuple[Path, str]] = []
    for name in step.params:
        if name not in model.model_fields:
            found.append(((*where, "params", name), f"{step.action} has no parameter {name}"))
    if found:
        return found
    if not any(_has_template(v) for v in step.params.values()):
        try:
            validate_params(step.action, step.params)
        except CatalogueError as exc:
            loc = tuple(exc.field.split(".")[1:2])  # params.<name>...: the parameter
            found.append(((*where, "params", *loc), exc.reason))
    return found


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


def _step_problems(step: Step, where: Path, rollback: bool) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if rollback and step.kind != "action":
        found.append(((*where, "kind"), "rollback steps are actions"))
    if step.kind in ("check", "verify") and step.risk is not Risk.READ:
        found.append(
            ((*where, "action"), f"a {step.kind} only reads: {step.action} is {step.risk} risk")
        )
    for field in ("when", "expect"):
        source = getattr(step, field)
        if source is not None:
            try:
                expression(source)
            except RenderError as exc:
                found.append(((*where, field), str(exc)))
    try:
        compile_value(step.params)
    except RenderError as exc:
        found.append(((*where, "params"), str(exc)))
    if step.action is not None:
        found += _params_problems(step, where)
    return found


def problems(playbook: Playbook) -> list[tuple[Path, str]]:
    """What pydantic cannot see, each with its path in the document."""
    found: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for section, steps in (("steps", playbook.steps), ("rollback", playbook.rollback)):
        for index, step in enumerate(steps):
            where: Path = (section, index)
            if step.id in seen:
                found.append(((*where, "id"), f"duplicate step id {step.id}"))
            seen.add(step.id)
            found += _step_problems(step, where, section == "rollback")
    if playbook.escalate is not None:
        try:
            compile_value(playbook.escalate.reason)
        except RenderError as exc:
            found.append((("escalate", "reason"), str(exc)))
    return found
