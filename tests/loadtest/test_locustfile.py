"""The load scenario, run for real: locust drives a live server until every simulated student has submitted."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ..live import DemoTest, LiveServer

REPO = Path(__file__).resolve().parents[2]


def _attempts(app: Any, session_id: int) -> list[tuple[str, int]]:
    """(status, answers stored) of every attempt of the session."""
    from assessment.models import Answer, Attempt

    db = app.extensions["ctcensus"].sessions()
    try:
        answered = (select(func.count(Answer.attempt_id)).where(Answer.attempt_id == Attempt.id)
                    .correlate(Attempt).scalar_subquery())
        rows = db.execute(select(Attempt.status, answered).where(Attempt.session_id == session_id)).all()
        return sorted((status, int(n)) for status, n in rows)
    finally:
        db.close()


def test_every_simulated_student_answers_everything_and_submits(live_server: LiveServer, demo_test: DemoTest,
                                                                 tmp_path: Path) -> None:
    tickets = tmp_path / "tickets.json"  # the shape `ctcensus session create --json` prints
    tickets.write_text(json.dumps({"session_id": demo_test.session_id,
                                   "tickets": [{"ticket": row.ticket} for row in demo_test.rows]}))
    users = str(len(demo_test.rows))
    env = {**os.environ, "CTCENSUS_TICKETS": str(tickets), "CTCENSUS_LOAD_WAIT": "0.05,0.2"}
    run = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "loadtest/locustfile.py", "--headless", "-u", users, "-r", users,
         "-t", "20s", "--host", live_server.url, "--only-summary", "--csv", str(tmp_path / "load")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]

    with open(tmp_path / "load_stats.csv", encoding="utf-8") as fh:
        stats = {row["Name"]: row for row in csv.DictReader(fh)}
    assert stats["Aggregated"]["Failure Count"] == "0"
    n_items, n_students = len(demo_test.item_ids), len(demo_test.rows)
    assert int(stats["answer"]["Request Count"]) == n_items * n_students  # every answer acknowledged
    assert int(stats["submit"]["Request Count"]) == n_students
    assert _attempts(live_server.app, demo_test.session_id) == [("submitted", n_items)] * n_students
