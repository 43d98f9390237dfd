from __future__ import annotations

import json

from agent.inventory_feed import InventoryFeed


def _sections(message: object) -> dict[str, object]:
    inventory = message.inventory  # type: ignore[attr-defined]
    return {k: json.loads(v) for k, v in inventory.sections.items()}


def test_full_first_then_only_changed_sections() -> None:
    feed = InventoryFeed()
    first = feed.message({"os": {"name": "x"}, "cpu": {"usage": 1}})
    assert first is not None and first.inventory.full
    assert _sections(first) == {"os": {"name": "x"}, "cpu": {"usage": 1}}
    feed.spooled(7)
    second = feed.message({"os": {"name": "x"}, "cpu": {"usage": 2}})
    assert second is not None and not second.inventory.full
    assert second.inventory.base_seq == 7
    assert _sections(second) == {"cpu": {"usage": 2}}


def test_nothing_changed_means_no_message() -> None:
    feed = InventoryFeed()
    feed.message({"os": {"a": 1}})
    feed.spooled(1)
    assert feed.message({"os": {"a": 1}}) is None


def test_removed_sections_are_named_and_full_can_be_requested_again() -> None:
    feed = InventoryFeed()
    feed.message({"os": {}, "users": {"sessions": []}})
    feed.spooled(1)
    delta = feed.message({"os": {}})
    assert delta is not None
    assert list(delta.inventory.removed_sections) == ["users"]
    feed.spooled(2)
    feed.want_full()
    again = feed.message({"os": {}})
    assert again is not None and again.inventory.full and again.inventory.base_seq == 0


def test_key_order_does_not_count_as_a_change() -> None:
    feed = InventoryFeed()
    feed.message({"os": {"a": 1, "b": 2}})
    feed.spooled(1)
    assert feed.message({"os": {"b": 2, "a": 1}}) is None
