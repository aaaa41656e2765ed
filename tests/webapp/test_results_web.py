"""Results pages and exports on the web: every role sees only its scope; 403 otherwise."""
from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from assessment.models import AuditEntry


def _login(client, username, password):  # type: ignore[no-untyped-def]
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def _rows(response):  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_bureau_sees_every_school_and_suppressed_cells_are_empty(client, census, db) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/results").status_code == 302
    _login(client, "bureau1", "bureau-pass")
    page = client.get("/results").get_data(as_text=True)
    assert "普測結果" in page and "export.csv?level=school" in page
    assert "Census results" in client.get("/results?lang=en").get_data(as_text=True)
    rows = _rows(client.get("/results/113/export.csv?level=school"))
    tiny = next(r for r in rows if r["school"] == "es-tiny")
    assert tiny["suppressed"] == "true" and tiny["mean"] == "" and tiny["n"] == ""
    assert {"es-a", "es-b", "jh-a"} <= {r["school"] for r in rows}
    xlsx = client.get("/results/113/export.xlsx?level=city")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert db.scalars(select(AuditEntry).where(AuditEntry.action == "results.export")).first() is not None


def test_school_admin_gets_their_school_only_and_403_for_another(client, census) -> None:  # type: ignore[no-untyped-def]
    _login(client, "boss-b", "school-pass")
    for level in ("school", "class", "student"):
        rows = _rows(client.get(f"/results/113/export.csv?level={level}"))
        assert rows and {r["school"] for r in rows} == {"es-b"}
    assert client.get("/results/113/export.csv?level=class&school=es-a").status_code == 403
    assert client.get("/results/113/export.csv?level=class&school=es-b").status_code == 200
    assert len(_rows(client.get("/results/113/export.csv?level=city"))) == 2  # the city to compare with


def test_teacher_sees_their_class_only(client, census) -> None:  # type: ignore[no-untyped-def]
    _login(client, "teach-a", "teacher-pass")
    students = _rows(client.get("/results/113/export.csv?level=student"))
    assert len(students) == 60 and {r["class"] for r in students} == {"es-a-c1"}
    assert _rows(client.get("/results/113/export.csv?level=school")) == []
    assert client.get("/results/113/export.csv?level=student&school=es-b").status_code == 403


def test_other_roles_get_403_and_researchers_pseudonyms(client, census) -> None:  # type: ignore[no-untyped-def]
    _login(client, "proc", "proctor-pass")
    assert client.get("/results").status_code == 403
    assert client.get("/results/113/export.csv?level=city").status_code == 403
    client.post("/logout")
    _login(client, "res", "research-pass")
    rows = _rows(client.get("/results/113/export.csv?level=student"))
    assert rows and not any(r["student"].startswith("es-") or r["school"].startswith("es-") for r in rows)
    assert client.get("/results/113/export.csv?level=nonsense").status_code == 400
    assert client.get("/results/999/export.csv?level=city").status_code == 404


def test_researchers_download_the_responses_csv_others_get_403(client, census, db) -> None:  # type: ignore[no-untyped-def]
    _login(client, "boss-b", "school-pass")
    assert client.get("/results/113/responses.csv").status_code == 403
    client.delete_cookie("session")
    _login(client, "res", "research-pass")
    assert "responses.csv" in client.get("/results").get_data(as_text=True)
    rows = _rows(client.get("/results/113/responses.csv?grade=8"))
    assert rows and {r["grade"] for r in rows} == {"8"}
    assert list(rows[0])[:4] == ["student", "grade", "school", "gender"]
    assert all(r["student"].startswith("S") and not r["school"].startswith("jh-") for r in rows)
    bad = client.get("/results/113/responses.csv?grade=7")
    assert bad.status_code == 400 and "no grade 7" in bad.get_data(as_text=True)
    entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "responses.export")).all()
    assert [(e.actor, e.target, e.detail["rows"]) for e in entries] == [("res", "web:113:responses.csv", len(rows))]
