"""The run panel turns form text into the JSON types an action's schema names; the API
then validates the values (and names the field) as for any other client."""

from __future__ import annotations

from catalogue.registry import CATALOGUE
from controller.console.run_panel import params_of


def _schema(action: str) -> dict[str, object]:
    return CATALOGUE[action].params.model_json_schema()


def test_numbers_lists_and_checkboxes_take_their_schema_types() -> None:
    form = {
        "param.paths": ["/tmp/a\n\n /var/tmp/b "],
        "param.older_than_s": ["3600"],
        "ignored": ["x"],
    }
    assert params_of(form, _schema("disk.cleanup")) == {
        "paths": ["/tmp/a", "/var/tmp/b"],
        "older_than_s": 3600,
    }
    assert params_of({"param.pid": ["42"], "param.name": [""]}, _schema("process.kill")) == {
        "pid": 42
    }


def test_text_that_is_not_a_number_is_passed_on_for_the_api_to_refuse_by_name() -> None:
    assert params_of({"param.pid": ["forty"]}, _schema("process.kill")) == {"pid": "forty"}


def test_empty_fields_are_left_to_their_defaults() -> None:
    assert params_of({"param.path": ["/etc/hosts"], "param.lines": [""]}, _schema("log.tail")) == {
        "path": "/etc/hosts"
    }
