"""The audit viewer: filters, pages newest first, roles (admin and researcher; 403 for others), escaping, CSV."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment import audit
from assessment.accounts import create_user
from assessment.audit_log import AuditFilter, audit_page
from assessment.db import utcnow
from assessment.models import AuditEntry
from tests.assessment.factories import make_class


def _login(client, username, password):  # type: ignore[no-untyped-def]
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def _trail(db: Session) -> None:
    """Staff of every role, and 120 entries a minute apart (the newest: a hostile object name)."""
    klass = make_class(db, school="es-t01")
    for name, role, school in (("adm", "admin", None), ("res", "researcher", None), ("bur", "bureau", None),
                               ("boss", "school_admin", "es-t01"), ("teach", "teacher", "es-t01"),
                               ("proc", "proctor", "es-t01")):
        create_user(db, name, f"{name}-password-1", role, school_source_id=school,
                    class_source_ids=[klass.source_id] if role == "teacher" else ())
    db.flush()
    db.execute(AuditEntry.__table__.delete())
    start = utcnow() - timedelta(hours=3)
    for k in range(120):
        actor = ("cli:ops", "alice", "bob_1")[k % 3]
        action = ("results.export", "results.compute", "responses.export", "users.create")[k % 4]
        entry = audit.record(db, actor, action, f"window-{k:03d}", ip="10.0.0.9", rows=k)
        entry.at = start + timedelta(minutes=k)
    evil = audit.record(db, "bob%", "items.import", '=HYPERLINK("http://e","<script>alert(\'x\')</script>")',
                        ip="10.0.0.7", note="<img src=x onerror=alert(1)>")
    evil.at = start + timedelta(minutes=200)
    db.commit()


def test_filters_match_literally_and_pages_run_newest_first(db: Session) -> None:
    _trail(db)
    everything = audit_page(db, AuditFilter(), per_page=50)
    assert everything.total == 121 and everything.pages == 3 and len(everything.rows) == 50
    assert everything.rows[0].action == "items.import" and everything.rows[1].target == "window-119"
    third = audit_page(db, AuditFilter(), page=3, per_page=50)
    assert [r.target for r in third.rows] == [f"window-{k:03d}" for k in range(20, -1, -1)]
    assert audit_page(db, AuditFilter(), page=9, per_page=50).rows == []
    alice = audit_page(db, AuditFilter(actor="ALI"), per_page=200)
    assert alice.total == 40 and {r.actor for r in alice.rows} == {"alice"}
    results = audit_page(db, AuditFilter(action="results"), per_page=200)
    assert results.total == 60 and {r.action for r in results.rows} == {"results.export", "results.compute"}
    assert audit_page(db, AuditFilter(action="export")).total == 0  # actions match from their start
    one = audit_page(db, AuditFilter(actor="alice", action="results.export", target="window-0"), per_page=200)
    # alice: k % 3 == 1; results.export: k % 4 == 0; "window-0": k < 100
    assert [r.target for r in one.rows] == [f"window-{k:03d}" for k in range(88, 0, -12)]
    # % and _ are characters, not wildcards
    assert [r.actor for r in audit_page(db, AuditFilter(actor="b%")).rows] == ["bob%"]
    assert {r.actor for r in audit_page(db, AuditFilter(actor="b_"), per_page=200).rows} == {"bob_1"}
    assert audit_page(db, AuditFilter()).rows[0].ip == ""  # addresses only when asked for (admins)
    assert audit_page(db, AuditFilter(), with_ip=True).rows[0].ip == "10.0.0.7"
    assert audit_page(db, AuditFilter()).rows[1].detail == "rows=119"


def test_admin_and_researcher_read_it_every_other_role_gets_403(client, db: Session) -> None:  # type: ignore[no-untyped-def]
    _trail(db)
    assert client.get("/audit").status_code == 302  # to the login page
    for name in ("bur", "boss", "teach", "proc"):
        _login(client, name, f"{name}-password-1")
        assert client.get("/audit").status_code == 403, name
        assert client.get("/audit/export.csv").status_code == 403, name
        client.post("/logout", data={"csrf_token": ""})
        client.delete_cookie("session")
    for name in ("adm", "res"):
        _login(client, name, f"{name}-password-1")
        page = client.get("/audit?lang=zh-TW")
        assert page.status_code == 200, name
        assert page.headers["Cache-Control"] == "no-store"
        html = page.get_data(as_text=True)
        assert "稽核紀錄" in html and 'href="/audit"' in html  # the page, and the link to it in the menu
        assert ("10.0.0.9" in html) == (name == "adm")  # addresses for admins only
        assert "Audit log" in client.get("/audit?lang=en").get_data(as_text=True)
        client.delete_cookie("session")


def test_the_page_escapes_what_it_shows_and_keeps_filters_across_pages(client, db: Session) -> None:  # type: ignore[no-untyped-def]
    _trail(db)
    _login(client, "adm", "adm-password-1")
    html = client.get("/audit?lang=en").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "122 matching entries" in html and "Page 1 of 3" in html  # the trail, and this sign-in
    html = client.get('/audit?actor=alice&action=results&target="><b>x&page=2').get_data(as_text=True)
    assert 'value="&#34;&gt;&lt;b&gt;x"' in html and "<b>x" not in html  # the filter's echo is escaped too
    page2 = client.get("/audit?action=results&page=2").get_data(as_text=True)
    assert "Page 2 of 2" in page2 or "第 2 頁，共 2 頁" in page2
    assert "page=1" in page2 and "action=results" in page2  # the pager keeps the filters
    assert client.get("/audit?page=abc").status_code == 200  # a bad page number is the first page


def test_csv_export_of_the_filtered_view_is_formula_safe_and_audited(client, db: Session) -> None:  # type: ignore[no-untyped-def]
    _trail(db)
    _login(client, "res", "res-password-1")
    response = client.get("/audit/export.csv?actor=bob")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 41 and {r["actor"] for r in rows} == {"bob%", "bob_1"}
    assert "ip" not in rows[0]  # researchers get no addresses
    assert rows[0]["target"].startswith("'=HYPERLINK(")  # text to a spreadsheet, never a formula
    db.expire_all()
    exports = db.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")
                         .order_by(AuditEntry.id)).all()
    assert [e.actor for e in exports] == ["res"]
    assert exports[0].detail == {"rows": 41, "filter_actor": "bob"}
    db.rollback()  # end the read (on SQLite every transaction holds the write lock)
    # an audited export shows up in the trail itself
    _login(client, "adm", "adm-password-1")
    rows = list(csv.DictReader(io.StringIO(client.get("/audit/export.csv?action=audit.").get_data(as_text=True))))
    assert [r["actor"] for r in rows] == ["res"] and rows[0]["detail"] == "filter_actor=bob, rows=41"
    assert "ip" in rows[0]  # admins get the addresses
