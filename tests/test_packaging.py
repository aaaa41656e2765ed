"""Packaging: setup.cfg declares every third-party distribution the installed packages import."""
from __future__ import annotations

import ast
import configparser
import os
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


# What a non-editable install must carry besides the modules: (folder, file name patterns) under the repository.
DATA = (
    ("assessment", ("reporting.yaml",)),
    ("assessment/migrations", ("*.py", "*.mako", "*.ini")),
    ("item_bank/content", ("*.yaml", "*.svg")),
    ("webapp", ("openapi.json", "gunicorn_conf.py")),
    ("webapp/templates", ("*",)),
    ("webapp/static", ("*",)),
    ("webapp/translations", ("*.json",)),
)


def test_the_build_is_clean_and_carries_every_data_file(tmp_path: Path) -> None:
    """Issue 12.9: data folders (migrations, templates, item content) were not declared packages.

    setuptools warned about each of them at every install ("Package 'assessment.migrations' is
    absent from the `packages` configuration"), and assessment/reporting.yaml, the default
    reporting configuration, was missing from the wheel. This runs setuptools' build_py (what
    `pip wheel .` and `pip install -e .` run) on a copy of the sources.
    """
    import shutil
    import subprocess

    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PACKAGES:
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    lib = tmp_path / "lib"
    # (without PYTHONDONTWRITEBYTECODE, which only adds "byte-compiling is disabled" to the output)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "build_py",
                             "--build-lib", str(lib)], cwd=src, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    warned = [line.strip() for line in output.splitlines() if re.search(r"warning|deprecat", line, re.IGNORECASE)]
    assert not warned, "\n".join(warned)
    wanted = sorted({path.relative_to(REPO) for folder, patterns in DATA for pattern in patterns
                     for path in (REPO / folder).rglob(pattern)
                     if path.is_file() and "__pycache__" not in path.parts
                     and (pattern != "*.py" or folder != "assessment")})
    assert len(wanted) > 100  # templates, static files, translations, migrations, item content
    missing = [str(rel) for rel in wanted if not (lib / rel).is_file()]
    assert not missing, "not in the build: " + ", ".join(missing)
