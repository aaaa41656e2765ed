"""What a load test run prints: requests/s, per-endpoint latency, errors, answers acknowledged vs stored (pure)."""
from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .cpu import CpuUse, format_cpu
from .faults import FaultWindow, Request, format_window, in_any_window
from .referee import AnswerVerdict

__all__ = ["EndpointStats", "LoadSummary", "RequestLog", "errors_outside", "failure_reasons", "format_summary",
           "percentile", "summary_json"]

SHOWN_PROBLEMS = 10  # missing answers etc. listed by name; the rest are counted


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks (numpy's default); NaN if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class _Endpoint:
    times: list[float] = field(default_factory=list)
    failures: int = 0
    errors: int = 0


class RequestLog:
    """Every request's time and outcome, by endpoint name (fed from locust's `request` event)."""

    def __init__(self) -> None:
        self._by_name: dict[str, _Endpoint] = {}
        self.problems: Counter[str] = Counter()  # failure messages, for the report
        self.resent = 0  # requests sent again after the server had closed the kept-alive connection
        self.t0 = time.monotonic()  # the run's start: the timeline counts seconds from it
        self.timeline: list[Request] = []  # every request with its times and status, for the fault windows

    def record(self, name: str, milliseconds: float, *, failure: str | None = None, status: int = 200) -> None:
        """One request; a failure is an *error* when the server failed (5xx) or the connection did (status 0)."""
        entry = self._by_name.setdefault(name, _Endpoint())
        entry.times.append(milliseconds)
        if failure is not None:
            entry.failures += 1
            if status == 0 or status >= 500:
                entry.errors += 1
            self.problems[f"{name}: {failure}"[:300]] += 1

    def on_request(self, name: str, response_time: float, response: Any = None, exception: Any = None,
                   context: dict[str, Any] | None = None, **_kw: Any) -> None:
        """locust `request` event listener (a request the scenario sent again is counted, not timed)."""
        ended = time.monotonic() - self.t0
        started = ended - float(response_time or 0.0) / 1000
        status = int(getattr(response, "status_code", 0) or 0)
        if context and context.get("resent"):
            self.resent += 1
            self.timeline.append(Request(name, started, ended, 0, failed=False, resent=True))
            return
        failure = None if exception is None else (str(exception) or type(exception).__name__)
        self.timeline.append(Request(name, started, ended, status, failed=failure is not None))
        self.record(name, float(response_time or 0.0), failure=failure, status=status)

    def endpoints(self) -> list[EndpointStats]:
        """Per endpoint, in order of first use."""
        return [EndpointStats.of(name, e.times, e.failures, e.errors) for name, e in self._by_name.items()]


@dataclass(frozen=True)
class EndpointStats:
    name: str
    count: int
    failures: int  # every failed request (errors included)
    errors: int  # 5xx and connection errors
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @classmethod
    def of(cls, name: str, times: Sequence[float], failures: int = 0, errors: int = 0) -> EndpointStats:
        return cls(name, len(times), failures, errors, percentile(times, 50), percentile(times, 95),
                   percentile(times, 99))


@dataclass(frozen=True)
class LoadSummary:
    """One run: its setting, the traffic and the referee's verdict."""

    setting: dict[str, Any]  # students, classes, schools, duration, rate, think, workers, database, redis
    seconds: float  # the load phase, from the first spawn to the last user's end
    endpoints: tuple[EndpointStats, ...]
    answers: AnswerVerdict
    saves: dict[str, int]  # acknowledged saves by kind (first, changed, same seq again, after an error)
    client: dict[str, int] = field(default_factory=dict)  # reloads, waits (Retry-After), resends
    user_errors: tuple[str, ...] = ()  # exceptions raised in the simulated users (a scenario bug)
    problems: tuple[tuple[str, int], ...] = ()  # the most frequent failure messages with their counts
    server_exit: int | None = None  # the exit status of `ctcensus serve` if it stopped during the run
    faults: tuple[FaultWindow, ...] = ()  # a fault run: each fault and what the clients saw around it
    errors_outside_faults: int = 0  # a fault run: 5xx / connection errors that ended outside every fault's window
    cpu: CpuUse | None = None  # where the machine's CPU went during the load phase (Linux only)

    @property
    def requests(self) -> int:
        return sum(e.count for e in self.endpoints)

    @property
    def failures(self) -> int:
        return sum(e.failures for e in self.endpoints)

    @property
    def errors(self) -> int:
        return sum(e.errors for e in self.endpoints)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


def failure_reasons(summary: LoadSummary, max_error_rate: float = 0.0) -> list[str]:
    """Why the run fails (empty: it passes): lost answers, errors above the threshold, other failed requests."""
    a = summary.answers
    reasons = _fault_reasons(summary) if summary.faults else []
    if summary.server_exit is not None:
        reasons.append(f"the server stopped during the run (ctcensus serve exit status {summary.server_exit}; "
                       "--keep keeps its server.log)")
    if a.missing or a.behind:
        reasons.append(f"{len(a.missing) + len(a.behind)} acknowledged answers are not stored")
    if a.duplicates:
        reasons.append(f"{len(a.duplicates)} (attempt, item) pairs stored more than once")
    if a.submitted_stored < a.submits_acknowledged:
        reasons.append(f"{a.submits_acknowledged - a.submitted_stored} acknowledged submits are not stored")
    if not summary.faults and summary.error_rate > max_error_rate:
        reasons.append(f"{summary.errors} requests failed with a 5xx or connection error "
                       f"({summary.error_rate:.2%} > --max-error-rate {max_error_rate:.2%})")
    others = summary.failures - summary.errors
    if others:
        reasons.append(f"{others} requests failed otherwise (an unexpected 4xx or a wrong body: a bug)")
    if summary.user_errors:
        reasons.append(f"{len(summary.user_errors)} exceptions in the simulated users, e.g. {summary.user_errors[0]}")
    if a.acknowledged == 0:
        reasons.append("no answer was acknowledged (run longer, or with a shorter --think)")
    return reasons


def _fault_reasons(summary: LoadSummary) -> list[str]:
    """A fault run may see errors only in its faults' windows; each fault must be followed by a success,
    a killed worker replaced, and every seated student must resume."""
    reasons = []
    if summary.errors_outside_faults:
        reasons.append(f"{summary.errors_outside_faults} requests failed with a 5xx or connection error outside "
                       "every fault's window")
    for w in summary.faults:
        r = w.record
        if r.skipped or r.started is None:
            continue
        if r.detail.startswith("FAILED"):
            reasons.append(f"{r.spec.kind}@{r.spec.at:g}: {r.detail}")
        if "NO replacement" in r.detail:
            reasons.append(f"{r.spec.kind}@{r.spec.at:g}: gunicorn did not replace the killed worker")
        if w.first_success is None:
            reasons.append(f"{r.spec.kind}@{r.spec.at:g}: no request succeeded after the fault")
    seated, resumed = summary.client.get("seated", 0), summary.client.get("resumed", 0)
    if resumed < seated:
        reasons.append(f"{seated - resumed} of {seated} students could not resume (sign in again and find every "
                       "acknowledged answer)")
    return reasons


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def _answers_line(a: AnswerVerdict) -> str:
    if a.covered:
        coverage = "covering every acknowledgement"
    else:
        shown = [f"attempt {t} item {i} seq {s} missing" for t, i, s in a.missing[:SHOWN_PROBLEMS]]
        shown += [f"attempt {t} item {i} seq {s} stored only seq {h}" for t, i, s, h in a.behind[:SHOWN_PROBLEMS]]
        shown += [f"attempt {t} item {i} stored twice" for t, i in a.duplicates[:SHOWN_PROBLEMS]]
        coverage = "NOT covering every acknowledgement: " + "; ".join(shown[:SHOWN_PROBLEMS])
    return f"answers: acknowledged {a.acknowledged}, stored {a.stored} ({coverage})"


def _hosts(setting: dict[str, Any]) -> str:
    """"2 app hosts x " for a run on several hosts; nothing for one (as reports always read)."""
    hosts = int(setting.get("hosts", 1))
    return f"{hosts} app hosts x " if hosts > 1 else ""


def format_summary(summary: LoadSummary, max_error_rate: float = 0.0) -> str:
    """The text report, one line per fact; `acknowledged N` and `stored N` are on the answers line."""
    s = summary.setting
    lines = [
        f"load test: {s['students']} students in {s['classes']} classes of {s['schools']} schools, "
        f"{s['proctors']} proctors{', the bureau overview' if s.get('overview_url') else ''}; "
        f"each sitting {s['duration']:g} s, {s['rate']:g} new students/s, think {s['think'][0]:g}-{s['think'][1]:g} s; "
        f"{_hosts(s)}gunicorn {s['workers']} workers; {s['database']} + {s['redis']}",
        f"requests: {summary.requests} in {summary.seconds:.1f} s = {summary.requests_per_second:.1f} requests/s; "
        f"failures {summary.failures}; errors (5xx/connection) {summary.errors} ({summary.error_rate:.2%})",
        f"{'endpoint':<20} {'requests':>9} {'failures':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}",
    ]
    for e in summary.endpoints:
        lines.append(f"{e.name:<20} {e.count:>9} {e.failures:>9} {e.errors:>7} {_ms(e.p50_ms):>8} "
                     f"{_ms(e.p95_ms):>8} {_ms(e.p99_ms):>8}")
    lines += [f"  failed {n}x: {message}" for message, n in summary.problems[:SHOWN_PROBLEMS]]
    lines += [format_window(w) for w in summary.faults]
    if summary.faults:
        lines.append(f"errors outside the fault windows: {summary.errors_outside_faults}")
        c = summary.client
        lines.append(f"students resumed: {c.get('resumed', 0)} of {c.get('seated', 0)} seated (signed in again "
                     "before submitting; GET /attempt held every acknowledged answer)")
    lines.append(_answers_line(summary.answers))
    lines.append("saves acknowledged: " + ", ".join(f"{kind} {n}" for kind, n in summary.saves.items()))
    if summary.client:
        lines.append("client: " + ", ".join(f"{kind} {n}" for kind, n in summary.client.items()))
    a = summary.answers
    lines.append(f"submits: acknowledged {a.submits_acknowledged}, stored {a.submitted_stored}")
    if summary.cpu is not None:
        lines.append(format_cpu(summary.cpu, summary.requests))
    reasons = failure_reasons(summary, max_error_rate)
    lines.append("verdict: " + ("PASS" if not reasons else "FAIL: " + "; ".join(reasons)))
    return "\n".join(lines)


def summary_json(summary: LoadSummary, max_error_rate: float = 0.0) -> dict[str, Any]:
    """The same report as one JSON-able object."""
    a = summary.answers
    reasons = failure_reasons(summary, max_error_rate)
    return {
        "setting": summary.setting,
        "seconds": round(summary.seconds, 3),
        "requests": summary.requests,
        "requests_per_second": round(summary.requests_per_second, 2),
        "failures": summary.failures,
        "errors": summary.errors,
        "error_rate": summary.error_rate,
        "endpoints": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(e).items()}
                      for e in summary.endpoints],
        "answers": {"acknowledged": a.acknowledged, "stored": a.stored, "covered": a.covered,
                    "missing": [list(m) for m in a.missing], "behind": [list(b) for b in a.behind],
                    "duplicates": [list(d) for d in a.duplicates]},
        "submits": {"acknowledged": a.submits_acknowledged, "stored": a.submitted_stored},
        "saves": summary.saves,
        "client": summary.client,
        "user_errors": list(summary.user_errors),
        "server_exit": summary.server_exit,
        "problems": [{"message": m, "count": n} for m, n in summary.problems],
        "faults": [_window_json(w) for w in summary.faults],
        "errors_outside_faults": summary.errors_outside_faults,
        "cpu_seconds": None if summary.cpu is None else {**summary.cpu.seconds, "other": summary.cpu.other,
                                                         "machine busy": summary.cpu.machine_busy,
                                                         "machine total": summary.cpu.machine_total},
        "passed": not reasons,
        "failure_reasons": reasons,
    }


def _window_json(w: FaultWindow) -> dict[str, Any]:
    r = w.record
    return {"kind": r.spec.kind, "at": r.spec.at, "started": r.started, "ended": r.ended, "detail": r.detail,
            "skipped": r.skipped, "window": [round(w.start, 3), round(w.end, 3)], "requests": w.requests,
            "statuses": w.statuses, "errors": w.errors, "longest_wait": round(w.longest_wait, 3),
            "errors_until": w.errors_until, "first_success": w.first_success, "cut_off": w.dropped}


def errors_outside(timeline: Sequence[Request], windows: Sequence[FaultWindow]) -> int:
    """5xx and connection errors (waited out included) that ended outside every fault's window.

    A request sent again because the server had closed an idle kept-alive connection is no error
    there: that happens in every run (gunicorn's keep-alive is shorter than a think time) and is
    counted apart; inside a fault's window it is shown as what the clients saw.
    """
    return sum(1 for r in timeline if r.error and not r.resent and not in_any_window(r, windows))
