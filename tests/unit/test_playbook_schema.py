"""Playbook files: the shipped library loads; mistakes are named by file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.playbooks.loader import Library, PlaybookError, load_file, parse
from controller.playbooks.render import RenderError, evaluate, render, truthy

SHIPPED = Path(__file__).parents[2] / "playbooks"
GOOD = """\
name: t
inputs:
  service: {type: str, required: true}
steps:
  - id: status
    kind: check
    action: service.status
    params: {name: "{{ inputs.service }}"}
  - id: restart
    action: service.restart
    params:
      name: "{{ inputs.service }}"
    when: not steps.status.ok
"""


def _error(text: str) -> PlaybookError:
    with pytest.raises(PlaybookError) as caught:
        parse(text, "playbooks/t.yaml", "t")
    return caught.value


def test_every_shipped_playbook_loads_and_is_named_by_its_file() -> None:
    library = Library.load(SHIPPED)
    names = {item.playbook.name for item in library}
    assert len(names) >= 15
    assert {"service-down", "disk-full-temp", "runaway-process", "broken-config"} <= names
    for path in SHIPPED.glob("*.yaml"):
        loaded = load_file(path)
        assert loaded.playbook.name == path.stem and loaded.playbook.description
        assert len(loaded.digest) == 64


def test_a_good_playbook_parses() -> None:
    playbook = parse(GOOD, "playbooks/t.yaml", "t")
    assert [s.id for s in playbook.steps] == ["status", "restart"]
    assert playbook.inputs["service"].required and not playbook.high_risk


def test_unknown_action_points_at_its_value() -> None:
    error = _error(GOOD.replace("action: service.restart", "action: service.restrat"))
    assert str(error) == "playbooks/t.yaml:10:13: steps[1].action: unknown action service.restrat"
    assert (error.path, error.line, error.column) == ("playbooks/t.yaml", 10, 13)


def test_duplicate_step_id() -> None:
    error = _error(GOOD.replace("id: restart", "id: status"))
    assert str(error) == "playbooks/t.yaml:9:9: steps[1].id: duplicate step id status"


def test_bad_expression() -> None:
    error = _error(GOOD.replace("when: not steps.status.ok", "when: not steps.status.ok =="))
    assert error.line == 13 and error.column == 11
    assert "steps[1].when: bad expression" in error.message


def test_bad_yaml_names_line_and_column() -> None:
    error = _error(GOOD.replace("params: {name:", "params: {name: [", 1))
    assert error.path == "playbooks/t.yaml" and error.line >= 8


def test_unknown_parameter_and_bad_static_parameter() -> None:
    error = _error(GOOD.replace("params:\n      name:", "params:\n      nmae:"))
    assert str(error).startswith(
        "playbooks/t.yaml:12:13: steps[1].params.nmae: service.restart has no parameter nmae"
    )
    error = _error(GOOD.replace('"{{ inputs.service }}"\n    when', '"-bad"\n    when'))
    assert error.message.startswith("steps[1].params.name: not a valid service name")


def test_a_check_must_only_read() -> None:
    error = _error(GOOD.replace("action: service.status", "action: service.stop"))
    assert error.message == "steps[0].action: a check only reads: service.stop is medium risk"
    assert (error.line, error.column) == (7, 13)


def test_missing_field_and_name_mismatch() -> None:
    error = _error("name: t\nsteps:\n  - kind: check\n    action: service.status\n")
    assert str(error) == "playbooks/t.yaml:3:5: steps[0].id: Field required"
    error = _error(GOOD.replace("name: t", "name: other"))
    assert str(error) == "playbooks/t.yaml:1:7: name: must be 't', the file's name"


def test_wrong_input_default_type() -> None:
    error = _error(GOOD.replace("{type: str, required: true}", "{type: int, default: x}"))
    assert error.line == 3 and "default 'x' is not a int" in error.message


def test_rendering_keeps_types_and_fills_text() -> None:
    context = {"inputs": {"n": 3, "paths": ["/tmp"], "name": "svc"}, "steps": {}}
    assert render({"a": "{{ inputs.n }}", "b": "x-{{ inputs.name }}"}, context) == {
        "a": 3,
        "b": "x-svc",
    }
    assert render(["{{ inputs.paths }}"], context) == [["/tmp"]]
    result = {"ok": True, "data": {"state": "running"}}
    assert truthy("result.ok and result.data.state == 'running'", {"result": result})
    assert not truthy("steps.x is defined", context)


def test_undefined_names_are_errors() -> None:
    with pytest.raises(RenderError, match=r"no attribute .nope."):
        render("{{ inputs.nope }}", {"inputs": {}})


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "x {{ inputs.__class__ }} y",
        "{{ inputs.update({'a': 1}) }}",
    ],
)
def test_the_sandbox_refuses_escapes(source: str) -> None:
    with pytest.raises(RenderError):
        render(source, {"inputs": {}})


def test_the_sandbox_refuses_attribute_escapes_in_conditions() -> None:
    with pytest.raises(RenderError, match="unsafe"):
        evaluate("''.__class__.__base__", {})
