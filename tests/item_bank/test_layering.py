"""item_bank is pure data logic: it imports no web, database or assessment code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import item_bank

FORBIDDEN = {"flask", "sqlalchemy", "webapp", "assessment", "redis", "alembic", "lxml"}


def test_item_bank_imports_stay_in_their_layer() -> None:
    root = Path(item_bank.__file__).parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_xml_is_only_parsed_through_defusedxml() -> None:
    root = Path(item_bank.__file__).parent
    for path in root.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for unsafe in (r"\bET\.fromstring\(", r"\bET\.parse\(", r"minidom", r"xml\.sax", r"expat"):
            assert not re.search(unsafe, source), f"{path.name} uses {unsafe}"


def test_public_api_is_declared() -> None:
    for name in item_bank.__all__:
        assert hasattr(item_bank, name), name
    for module in ("errors", "grid", "loader", "model", "qti", "qti.export", "qti.import_", "qti.package", "qti.xml",
                   "responses", "sanitizer", "validation"):
        mod = __import__(f"item_bank.{module}", fromlist=["__all__"])
        assert mod.__all__ and all(hasattr(mod, n) for n in mod.__all__), module
