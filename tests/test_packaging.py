"""Packaging: setup.cfg declares every third-party distribution the installed packages import."""
from __future__ import annotations

import ast
import configparser
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("assessment", "item_bank", "scoring", "webapp", "loadtest")
# loadtest runs locust, which the dev extra installs (a census server never needs it)
EXTRAS_ALLOWED = {"loadtest": ("dev",)}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg", encoding="utf-8")
    return cfg


def _declared(value: str) -> set[str]:
    return {_normalise(Requirement(line).name) for line in value.strip().splitlines() if line.strip()}


def _top_level_imports(package: str) -> dict[str, str]:
    """Third-party top-level module -> the first file:line importing it (lazy imports inside functions too)."""
    found: dict[str, str] = {}
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in PACKAGES or top == "__future__":
                    continue
                found.setdefault(top, f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_every_imported_distribution_is_declared() -> None:
    """Issue 12.8: itsdangerous (assessment/tickets.py) and werkzeug (webapp) came only through Flask."""
    cfg = _setup_cfg()
    required = _declared(cfg["options"]["install_requires"])
    extras = {name: _declared(value) for name, value in cfg["options.extras_require"].items()}
    distributions = packages_distributions()
    missing = []
    for package in PACKAGES:
        allowed = required.union(*(extras[e] for e in EXTRAS_ALLOWED.get(package, ())))
        for module, where in _top_level_imports(package).items():
            dists = {_normalise(d) for d in distributions.get(module, [module])}
            if not dists & allowed:
                missing.append(f"{where} imports {module} (distribution {', '.join(sorted(dists))})")
    assert not missing, "declare in setup.cfg install_requires:\n" + "\n".join(missing)
