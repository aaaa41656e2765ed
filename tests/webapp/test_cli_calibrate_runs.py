"""`ctcensus calibrate --window CODE --name NAME` (issue 11.2): the same estimates as export + `calibrate FILE`,
clear errors that store nothing, and the real queue path with a `ctcensus worker` process (run, status, cancel)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment.config import Settings
from assessment.models import CalibrationRun, ItemParameterRecord, ParameterSet
from scoring.csvio import read_params_csv
from tests.assessment.test_calibration_runs import simulate_known_census

SECRET = "test-secret-key-0123456789"


def _counts(db: Session) -> tuple[int, int, int]:
    db.rollback()
    counts = (db.scalar(select(func.count()).select_from(CalibrationRun)) or 0,
              db.scalar(select(func.count()).select_from(ParameterSet)) or 0,
              db.scalar(select(func.count()).select_from(ItemParameterRecord)) or 0)
    db.rollback()  # SQLite: no transaction may stay open while the CLI or the worker writes
    return counts


def test_the_exported_csv_calibrated_by_the_cli_gives_the_runs_estimates(db: Session, tmp_path: Path, run_cli,  # type: ignore[no-untyped-def]
                                                                          cli_env) -> None:
    cli_env["SECRET_KEY"] = SECRET
    cli_env["CTCENSUS_REDIS_PREFIX"] = f"ctctest:{uuid.uuid4().hex[:8]}:"  # a queue no worker listens to
    simulate_known_census(db, tmp_path, n_per_grade=400)
    result = run_cli("calibrate", "--window", "113", "--name", "cal-113", "--quiet")
    assert result.exit_code == 0, result.output
    assert "no worker is running" in result.output  # plain CLI use: the job runs in the command's process
    assert "calibration run 1 (cal-113), window 113: done" in result.output
    assert "draft parameter set cal-113 stored" in result.output and "latent distribution 5: N(0.000, 1.000^2)" \
        in result.output

    out, params = tmp_path / "responses.csv", tmp_path / "params.csv"
    assert run_cli("responses", "export", "--window", "113", "--out", str(out), "--quiet").exit_code == 0
    result = run_cli("calibrate", str(out), "--model", "auto", "--group-column", "grade", "--skip-column", "school",
                     "--skip-column", "gender", "--out", str(params), "--quiet")
    assert result.exit_code == 0, result.output
    cli = read_params_csv(params)
    pset = db.scalar(select(ParameterSet).where(ParameterSet.name == "cal-113"))
    assert pset is not None
    by_item = {r.item.item_id: r for r in pset.parameters}
    assert set(by_item) == set(cli.item_names)
    for j, name in enumerate(cli.item_names):
        rec = by_item[name]
        assert rec.model == cli.model[j]
        np.testing.assert_allclose(rec.a, cli.a[j], rtol=0, atol=2e-6)  # the CSV keeps 6 decimals
        np.testing.assert_allclose(rec.d, cli.d[j][: len(rec.d)], rtol=0, atol=2e-6)
    groups = (tmp_path / "params.groups.csv").read_text().splitlines()
    stored = {g["group"]: g for g in pset.groups or []}
    assert groups[2].startswith(f"8,{stored['8']['mean']:.6f},{stored['8']['sd']:.6f}")
    db.rollback()  # SQLite: no read transaction may stay open while the CLI writes

    result = run_cli("calibrate", "--status", "1", "--json")
    data = json.loads(result.output)
    assert data["status"] == "done" and data["parameter_set"] == "cal-113" and data["result"]["converged"]
    assert {"loglik", "aic", "bic", "n_iter", "n_persons", "n_items"} <= set(data["result"])
    listing = run_cli("calibrate", "--list", "--window", "113").output
    assert "run    1" in listing and "done" in listing and "cal-113" in listing


def test_bad_input_gives_a_clear_error_and_stores_nothing(db: Session, tmp_path: Path, run_cli, cli_env) -> None:  # type: ignore[no-untyped-def]
    cli_env["CTCENSUS_REDIS_PREFIX"] = f"ctctest:{uuid.uuid4().hex[:8]}:"
    simulate_known_census(db, tmp_path, n_per_grade=200)
    before = _counts(db)
    cases = [
        (["--window", "999", "--name", "x"], "no test window"),
        (["--window", "113", "--grade", "7", "--name", "x"], "window 113 has no grade 7 sessions; its grades: 5, 8"),
        (["--window", "113", "--model", "4pl", "--name", "x"], "Invalid value for '--model'"),
        (["--window", "113", "--name", "provisional-2026"], "a parameter set named 'provisional-2026' exists"),
        (["--window", "113"], "--window needs --name"),
        (["--window", "113", "--name", "x", "--anchors", "fixed"], "--anchor-set"),
        (["--window", "113", "--name", "x", "--out", "p.csv"], "--out belongs to the CSV form"),
        (["--window", "113", "--name", "x", "--no-wait"], "no worker is running"),
        (["--cancel", "42"], "no calibration run 42"),
        ([], "give RESPONSES.csv, or --window"),
    ]
    for args, message in cases:
        result = run_cli("calibrate", *args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
        assert _counts(db) == before, args


@pytest.fixture
def worker(cli_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """A `ctcensus worker` process on the run's Redis (the embedded one unless REDIS_URL is set), own queue."""
    from assessment.jobs import calibration_queue, workers_listening

    env = dict(os.environ) | cli_env | {"SECRET_KEY": SECRET, "CTCENSUS_REDIS_PREFIX": f"ctctest:{uuid.uuid4().hex[:8]}:"}
    cli_env.update(env)
    settings = Settings.load(environ=env)
    old = os.environ.get("CTCENSUS_REDIS_PREFIX")
    os.environ["CTCENSUS_REDIS_PREFIX"] = env["CTCENSUS_REDIS_PREFIX"]
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "webapp.cli", "worker"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while workers_listening(settings) == 0:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker did not register"
            time.sleep(0.1)
        yield env | {"WORKER_PID": str(proc.pid)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        queue = calibration_queue(settings)  # the keys of this test's queue (the workers' sets, registries)
        keys = [k for k in queue.connection.scan_iter(match="rq:*", count=1000) if env["CTCENSUS_REDIS_PREFIX"].encode()
                in k or env["CTCENSUS_REDIS_PREFIX"].replace(":", "-").encode() in k]
        if keys:
            queue.connection.delete(*keys)
        queue.connection.srem("rq:queues", queue.key)
        if old is None:
            os.environ.pop("CTCENSUS_REDIS_PREFIX", None)
        else:
            os.environ["CTCENSUS_REDIS_PREFIX"] = old


def test_the_queue_path_runs_on_a_real_worker_and_a_cancel_stops_it(db: Session, tmp_path: Path, run_cli,  # type: ignore[no-untyped-def]
                                                                     worker) -> None:
    simulate_known_census(db, tmp_path, n_per_grade=200)
    result = run_cli("calibrate", "--window", "113", "--name", "cal-queued", "--quiet")
    assert result.exit_code == 0, result.output
    assert "no worker is running" not in result.output
    assert "calibration run 1 (cal-queued), window 113: done" in result.output
    assert db.scalar(select(ParameterSet).where(ParameterSet.name == "cal-queued")) is not None
    db.rollback()

    # a run that would go on for long (tol never reached): queued, seen running, cancelled -> nothing stored
    before = _counts(db)
    result = run_cli("calibrate", "--window", "113", "--name", "cal-long", "--tol", "1e-300", "--max-iter", "1000000",
                     "--no-wait")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("queued calibration run 2 (cal-long)")
    deadline = time.monotonic() + 60
    while True:
        data = json.loads(run_cli("calibrate", "--status", "2", "--json").output)
        if data["progress"].get("iteration", 0) >= 2:
            break
        assert data["status"] in ("queued", "running"), data
        assert time.monotonic() < deadline, data
        time.sleep(0.2)
    assert data["status"] == "running"
    result = run_cli("calibrate", "--cancel", "2")
    assert result.exit_code == 0 and "cancel requested" in result.output, result.output
    deadline = time.monotonic() + 30
    while data["status"] == "running":
        assert time.monotonic() < deadline, data
        time.sleep(0.2)
        data = json.loads(run_cli("calibrate", "--status", "2", "--json").output)
    assert data["status"] == "cancelled" and data["parameter_set"] is None and data["result"] is None
    runs, sets, records = _counts(db)
    assert (sets, records) == before[1:] and runs == before[0] + 1
    assert db.scalar(select(ParameterSet).where(ParameterSet.name == "cal-long")) is None


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads processes from Linux /proc")
def test_a_run_whose_worker_job_dies_ends_failed_not_running_forever(db: Session, tmp_path: Path, run_cli,  # type: ignore[no-untyped-def]
                                                                      worker) -> None:
    import signal

    simulate_known_census(db, tmp_path, n_per_grade=200)
    before = _counts(db)
    result = run_cli("calibrate", "--window", "113", "--name", "cal-killed", "--tol", "1e-300", "--max-iter",
                     "1000000", "--no-wait")
    assert result.exit_code == 0, result.output
    deadline = time.monotonic() + 60
    while json.loads(run_cli("calibrate", "--status", "1", "--json").output)["progress"].get("iteration", 0) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    horses = [c for c in _children(int(worker["WORKER_PID"]))]
    assert len(horses) == 1, horses  # RQ runs each job in a forked work horse
    os.kill(horses[0], signal.SIGKILL)  # as the kernel's OOM killer would
    deadline = time.monotonic() + 30
    while (data := json.loads(run_cli("calibrate", "--status", "1", "--json").output))["status"] == "running":
        assert time.monotonic() < deadline, data
        time.sleep(0.2)
    assert data["status"] == "failed" and "terminated unexpectedly" in data["message"], data
    assert data["parameter_set"] is None
    runs, sets, records = _counts(db)
    assert (sets, records) == before[1:] and runs == before[0] + 1
