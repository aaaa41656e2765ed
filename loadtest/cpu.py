"""Where the machine's CPU went during a load run: the app, PostgreSQL, Redis, the load generator, the rest.

Read from Linux's /proc before and after the load phase (elsewhere: no figures). The app is every
process below the `ctcensus serve` processes the run started (gunicorn's master, its workers, the
embedded Redis it may start); PostgreSQL and Redis are the processes of those names on the machine
(a PostgreSQL backend that exits during the run takes its CPU with it, so the machine's total from
/proc/stat is given too and "other" is what no live process accounts for). The point is the
per-request cost (CPU ms per request of the app) that decides how many requests a core serves.
"""
from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuSample", "CpuUse", "cpu_sample", "cpu_use", "format_cpu"]

PROC = Path("/proc")
CATEGORIES = ("app", "postgres", "redis", "load generator")


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds so far: per live process (pid -> category, seconds) and the machine's busy total."""

    processes: dict[int, tuple[str, float]]
    machine_busy: float
    machine_total: float


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds spent between two samples, per category, and the machine's busy and elapsed CPU seconds."""

    seconds: dict[str, float]
    machine_busy: float
    machine_total: float

    @property
    def other(self) -> float:
        return max(0.0, self.machine_busy - sum(self.seconds.values()))


def _ticks() -> float:
    return float(os.sysconf("SC_CLK_TCK"))


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, user+system CPU seconds) of a process, or None if it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1: raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _ticks()


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat's first line."""
    values = [int(v) for v in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / _ticks(), total / _ticks()


def cpu_sample(app_roots: Iterable[int]) -> CpuSample | None:
    """The CPU seconds of every process now, classified; None where /proc is not there."""
    if not (PROC / "stat").exists():
        return None
    stats: dict[int, tuple[str, int, float]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    roots, me = set(app_roots), os.getpid()

    def category(pid: int) -> str | None:
        name = stats[pid][0]
        if pid == me:
            return "load generator"
        seen = pid
        while seen > 1 and seen in stats:
            if seen in roots:
                return "app"
            seen = stats[seen][1]
        if name.startswith("postgres") or name.startswith("postmaster"):
            return "postgres"
        if name.startswith("redis-server"):
            return "redis"
        return None

    processes = {pid: (cat, stat[2]) for pid, stat in stats.items() if (cat := category(pid)) is not None}
    busy, total = _machine()
    return CpuSample(processes, busy, total)


def cpu_use(before: CpuSample | None, after: CpuSample | None) -> CpuUse | None:
    """The CPU each category spent between two samples (a process new since `before` counts from zero)."""
    if before is None or after is None:
        return None
    seconds: dict[str, float] = defaultdict(float)
    for pid, (cat, spent) in after.processes.items():
        earlier = before.processes.get(pid)
        seconds[cat] += spent - (earlier[1] if earlier is not None and earlier[0] == cat else 0.0)
    return CpuUse({c: seconds.get(c, 0.0) for c in CATEGORIES}, after.machine_busy - before.machine_busy,
                  after.machine_total - before.machine_total)


def format_cpu(use: CpuUse, requests: int) -> str:
    """One line: CPU seconds and share of the machine per category, and the app's CPU ms per request."""
    total = use.machine_total or 1.0
    parts = [f"{c} {s:.1f} s ({s / total:.0%})" for c, s in use.seconds.items()]
    parts.append(f"other {use.other:.1f} s ({use.other / total:.0%})")
    per_request = (f"; app {1000 * use.seconds['app'] / requests:.2f} ms, whole machine "
                   f"{1000 * use.machine_busy / requests:.2f} ms per request") if requests else ""
    return (f"cpu (of {use.machine_total:.0f} CPU-seconds, busy {use.machine_busy / total:.0%}): "
            + ", ".join(parts) + per_request)
