"""Shared fixtures for item_bank tests: the fixture bank, raw item dicts and file helpers."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from item_bank import Item, load_bank
from tests.item_bank.helpers import ITEMS_DIR



@pytest.fixture(scope="session")
def fixture_items() -> list[Item]:
    """The seven valid fixture items (every type; short_answer both numeric and text)."""
    return load_bank(ITEMS_DIR)


@pytest.fixture(scope="session")
def by_id(fixture_items: list[Item]) -> dict[str, Item]:
    """Fixture items by id."""
    return {i.id: i for i in fixture_items}


@pytest.fixture()
def raw_item():
    """Return a deep copy of one fixture item's YAML mapping, to mutate in a test."""

    def _raw(item_id: str) -> dict[str, Any]:
        path = next(ITEMS_DIR.rglob(f"{item_id}.yaml"))
        return copy.deepcopy(yaml.safe_load(path.read_text(encoding="utf-8")))

    return _raw
