"""The player's pure modules (webapp/static/player/storage.js, sync.js) tested under Node's own test runner.

tests/js/*.test.mjs run with `node --test` (no npm packages: a small in-memory Storage stands in for
the browser's). Skipped, with the reason shown, only where no `node` is installed, and never under
`CI=true` (.ci/run installs Debian's nodejs); the real-browser tests cover the same modules end to end.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = Path(__file__).resolve().parents[1] / "js"


def test_the_players_answer_queue_under_node() -> None:
    if shutil.which("node") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("node is not installed, and CI must run the player's JS tests (apt-get install nodejs)")
        pytest.skip("node is not installed (Debian package nodejs)")
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))
    assert files, f"no *.test.mjs in {JS_TESTS}"
    run = subprocess.run(["node", "--test", *files], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout
