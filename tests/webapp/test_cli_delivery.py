"""The delivery CLI: window, forms, classes, session (JSON for scripts), sweep, roster import, demo."""
import json
import re
from pathlib import Path

from assessment.models import Attempt, TestSession

FIXTURE = Path(__file__).parents[1] / "assessment" / "fixtures" / "oneroster"


def _ok(result):  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return result.output


def test_window_forms_classes_session_round_trip(run_cli, db) -> None:  # type: ignore[no-untyped-def]
    _ok(run_cli("db", "upgrade"))
    _ok(run_cli("items", "import", str(Path(__file__).parents[2] / "item_bank" / "content")))
    out = _ok(run_cli("roster", "import", str(FIXTURE)))
    assert "students: 7 new" in out
    out = _ok(run_cli("window", "create", "--code", "113", "--name", "113 學年度普測",
                      "--starts", "2024-09-01", "--ends", "2099-06-30"))
    assert "created test window 113" in out and "+08:00" in out
    again = run_cli("window", "create", "--code", "113", "--name", "x", "--starts", "2024-09-01", "--ends", "2099-06-30")
    assert again.exit_code == 1 and "already exists" in again.output
    forms = json.loads(_ok(run_cli("forms", "build", "--grade", "5", "--booklets", "2", "--seed", "4", "--json")))
    assert [f["code"] for f in forms] == ["G5-S4-A", "G5-S4-B"] and sorted(forms[0]["anchors"]) == sorted(forms[1]["anchors"])
    listed = json.loads(_ok(run_cli("forms", "list", "--json")))
    assert [f["id"] for f in listed] == [f["id"] for f in forms]
    classes = json.loads(_ok(run_cli("classes", "list", "--school", "or-es-hp", "--json")))
    assert [(c["name"], c["students"]) for c in classes] == [("五年1班", 3), ("五年2班", 2)]
    session = json.loads(_ok(run_cli("session", "create", "--class", str(classes[0]["id"]), "--form",
                                     str(forms[0]["id"]), "--minutes", "35", "--window", "113", "--json")))
    assert session["minutes"] == 35 and len(session["tickets"]) == 3
    assert all(re.fullmatch(r"[2-9A-HJ-NP-Z]{8}", t["ticket"]) for t in session["tickets"])
    assert json.loads(_ok(run_cli("forms", "list", "--json")))[0]["frozen"] is True
    text = _ok(run_cli("session", "create", "--class", str(classes[1]["id"]), "--form", str(forms[1]["id"])))
    assert "printable ticket sheet" in text
    wrong = run_cli("session", "create", "--class", "99999", "--form", str(forms[0]["id"]))
    assert wrong.exit_code == 1 and "no class with id 99999" in wrong.output
    huge = run_cli("session", "create", "--class", "9" * 20, "--form", str(forms[0]["id"]))
    assert huge.exit_code == 2 and "'--class': 99999999999999999999 is not in the range 1<=x<=2147483647" in huge.output
    assert "0 attempts submitted" in _ok(run_cli("sessions", "sweep"))
    assert len(json.loads(_ok(run_cli("session", "list", "--json")))) == 2
    # a class with an open (or paused) session gets no second one: that would be two tickets per student
    c0, c1, f0 = str(classes[0]["id"]), str(classes[1]["id"]), str(forms[0]["id"])
    busy = run_cli("session", "create", "--class", c0, "--form", f0)
    assert busy.exit_code == 1 and f"class 五年1班 (id {c0}) already has an open session" in busy.output
    db.query(TestSession).update({"status": "closed"})
    db.commit()
    # several classes at once: one transaction, so one bad class id opens nothing
    partly_wrong = run_cli("session", "create", "--class", c1, "--class", "99999", "--form", f0)
    assert partly_wrong.exit_code == 1 and "no class with id 99999" in partly_wrong.output
    assert len(json.loads(_ok(run_cli("session", "list", "--json")))) == 2
    # a class named twice is opened once
    many = json.loads(_ok(run_cli("session", "create", "--class", c0, "--class", c1, "--class", c0, "--form", f0,
                                  "--json")))
    assert [len(s["tickets"]) for s in many] == [3, 2]
    assert len(json.loads(_ok(run_cli("session", "list", "--json")))) == 4
    assert db.query(Attempt).join(TestSession).filter(TestSession.status == "open").count() == 5


def test_roster_import_errors_are_one_clean_message(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _ok(run_cli("db", "upgrade"))
    (tmp_path / "orgs.csv").write_text("sourcedId,name,type\n", encoding="utf-8")
    result = run_cli("roster", "import", str(tmp_path))
    assert result.exit_code == 1 and "classes.csv: required file is missing" in result.output


def test_demo_opens_a_session_with_tickets(run_cli, db) -> None:  # type: ignore[no-untyped-def]
    out = _ok(run_cli("demo", "--no-serve", "--port", "5055"))
    assert "students: open http://127.0.0.1:5055/take and type a ticket:" in out
    tickets = re.findall(r"\b([2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4})\b", out)
    assert len(tickets) >= 5
    session = db.query(TestSession).filter(TestSession.status != "closed").one()  # the live class; the rest sat the census
    assert session.school_class.school.source_id == "es-001" and session.school_class.grade == 5
    assert db.query(Attempt).filter(Attempt.session_id == session.id).count() == len(tickets)
    assert re.search(r"results: run 1, \d{4} students scored", out)
    db.commit()
    out2 = _ok(run_cli("demo", "--no-serve", "--port", "5055"))  # idempotent: the same session again
    assert re.findall(r"\b([2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4})\b", out2) == tickets


def test_demo_without_the_census_leaves_every_other_class_free(run_cli, db) -> None:  # type: ignore[no-untyped-def]
    out = _ok(run_cli("demo", "--no-serve", "--no-census"))
    assert "simulated census" not in out and "results dashboards" not in out
    assert [s.school_class.school.source_id for s in db.query(TestSession)] == ["es-001"]  # only the live demo class
    db.commit()  # end the read (SQLite transactions take the write lock)
    free = [c for c in json.loads(_ok(run_cli("classes", "list", "--json"))) if c["open_session"] is None]
    assert len(free) > 200


def test_window_dates_any_iso_date_form_is_a_whole_day(run_cli) -> None:  # type: ignore[no-untyped-def]
    _ok(run_cli("db", "upgrade"))
    cases = {"a": ("2026-05-01", "2026-05-04"), "b": ("20260501", "20260504"), "c": ("2026-W18-5", "2026-W19-1")}
    for code, (starts, ends) in cases.items():
        data = json.loads(_ok(run_cli("window", "create", "--code", code, "--name", "t", "--academic-year", "114",
                                      "--starts", starts, "--ends", ends, "--json")))
        assert (data["starts_at"], data["ends_at"]) == ("2026-05-01T00:00:00+08:00", "2026-05-04T23:59:59+08:00"), code
    timed = json.loads(_ok(run_cli("window", "create", "--code", "d", "--name", "t", "--academic-year", "114",
                                   "--starts", "20260501T0800", "--ends", "2026-05-04T12:00Z", "--json")))
    assert (timed["starts_at"], timed["ends_at"]) == ("2026-05-01T08:00:00+08:00", "2026-05-04T12:00:00+00:00")
    bad = run_cli("window", "create", "--code", "e", "--name", "t", "--starts", "2026-13-01", "--ends", "2026-05-04")
    assert bad.exit_code == 2 and "'2026-13-01' is not an ISO date or date-time" in bad.output


def test_forms_build_refuses_a_zero_time_limit(run_cli, db) -> None:  # type: ignore[no-untyped-def]
    _ok(run_cli("db", "upgrade"))
    _ok(run_cli("items", "import", str(Path(__file__).parents[2] / "item_bank" / "content")))
    zero = run_cli("forms", "build", "--grade", "5", "--minutes", "0")
    assert zero.exit_code == 1 and "time limit must be 1-240 minutes; got 0" in zero.output
    assert json.loads(_ok(run_cli("forms", "list", "--json"))) == []
    built = json.loads(_ok(run_cli("forms", "build", "--grade", "5", "--minutes", "20", "--json")))
    assert built[0]["time_limit_minutes"] == 20


def test_forms_shuffle_per_student_unless_printed(run_cli, db) -> None:  # type: ignore[no-untyped-def]
    """Issue 8.1: shuffled by default; `--no-shuffle` (printed forms) must be asked for."""
    _ok(run_cli("items", "import", str(Path(__file__).parents[2] / "item_bank" / "content")))
    default = json.loads(_ok(run_cli("forms", "build", "--grade", "8", "--json")))[0]
    printed = json.loads(_ok(run_cli("forms", "build", "--grade", "8", "--no-shuffle", "--json")))[0]
    assert default["shuffle_options"] is True and printed["shuffle_options"] is False
    assert "--no-shuffle" in _ok(run_cli("forms", "build", "--help"))


def test_roster_import_with_a_nul_is_a_line_numbered_error(run_cli, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 8.7: on PostgreSQL a NUL in a name ended in a traceback; now it is named by file, line and field."""
    import shutil

    pkg = tmp_path / "pkg"
    shutil.copytree(FIXTURE, pkg)
    users = (pkg / "users.csv").read_text(encoding="utf-8").replace(",小明,王,", ",小\x00明,王,", 1)
    (pkg / "users.csv").write_text(users, encoding="utf-8")
    _ok(run_cli("db", "upgrade"))
    result = run_cli("roster", "import", str(pkg))  # an exception would propagate (catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "users.csv line 2: u-s-001: field givenName holds the control character U+0000 (NULL)" in result.output
    assert "\x00" not in result.output
