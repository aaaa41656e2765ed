"""The player's pure modules (webapp/static/player/storage.js, sync.js) tested under Node's own test runner.

tests/js/*.test.mjs run with `node --test` (no npm packages: a small in-memory Storage stands in for
the browser's). Skipped, with the reason shown, only where no `node` is installed; the real-browser
tests cover the same modules end to end.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = Path(__file__).resolve().parents[1] / "js"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (Debian package nodejs)")
def test_the_players_answer_queue_under_node() -> None:
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))
    assert files, f"no *.test.mjs in {JS_TESTS}"
    run = subprocess.run(["node", "--test", *files], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout
