"""The load run's CPU accounting: a busy app process is counted as the app's, this process as the load generator's."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from loadtest.cpu import cpu_sample, cpu_use, format_cpu

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")


def test_cpu_is_split_between_the_app_and_the_load_generator() -> None:
    # An "app" whose child burns CPU for a while: the child counts as the app through its parent.
    burn = "import time\nend = time.monotonic() + 4\nwhile time.monotonic() < end: pass\n"  # still running when sampled
    app = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}])"])
    try:
        time.sleep(0.5)  # the child exists before the first sample
        before = cpu_sample([app.pid])
        end = time.process_time() + 0.3
        while time.process_time() < end:  # the load generator (this process) works too
            pass
        time.sleep(0.5)
        after_burn = cpu_sample([app.pid])
    finally:
        app.wait(timeout=30)
    use = cpu_use(before, after_burn)
    assert use is not None
    assert use.seconds["app"] >= 0.2
    assert use.seconds["load generator"] >= 0.25
    assert use.machine_busy >= use.seconds["app"] + use.seconds["load generator"] - 0.05
    line = format_cpu(use, requests=100)
    assert "app " in line and "per request" in line
    assert cpu_use(None, after_burn) is None
