"""Helpers for item_bank tests: writing item files and collecting load errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from item_bank import ItemBankError, ItemValidationError, load_bank

FIXTURES = Path(__file__).parent / "fixtures"
ITEMS_DIR = FIXTURES / "items"


def write_yaml(directory: Path, name: str, data: Any) -> Path:
    """Write `data` as an item YAML file and return its path."""
    path = directory / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def bank_errors(path: Path) -> list[ItemValidationError]:
    """Load `path`, expecting failure; return the collected validation errors."""
    with pytest.raises(ItemBankError) as info:
        load_bank(path)
    return info.value.errors
