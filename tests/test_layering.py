"""Imports only go down the layers: webapp → assessment → item_bank → scoring; loadtest talks HTTP (CONVENTIONS.md §1)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# What each package must never import (item_bank has its own, stricter test in tests/item_bank).
FORBIDDEN = {
    "scoring": {"flask", "werkzeug", "sqlalchemy", "alembic", "redis", "webapp", "assessment", "item_bank"},
    "assessment": {"flask", "werkzeug", "webapp"},
    # the load talks HTTP only; the stack is set up with the `ctcensus` command as a subprocess
    "loadtest": {"flask", "werkzeug", "webapp", "assessment", "item_bank", "scoring"},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_in_their_layer(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"no modules found in {package}/"
    offending = [f"{path.relative_to(REPO)}:{line} imports {name}"
                 for path in files for line, name in _imports(path)
                 if name.split(".")[0] in FORBIDDEN[package]]
    assert not offending, "\n".join(offending)
