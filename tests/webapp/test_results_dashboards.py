"""Results dashboards on the web: each role's pages, suppressed groups, tables as CSV/XLSX, the PDF, 403s."""
from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from assessment.models import AuditEntry

from .test_results_web import _login


def _page(client, url: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def _svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S)]


def test_bureau_lands_on_results_and_opens_city_district_and_school_pages(client, census) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    landing = client.post("/login", data={"username": "bureau1", "password": "bureau-pass", "csrf_token": token})
    assert landing.headers["Location"] == "/results"
    index = _page(client, "/results")
    assert "/results/113/city" in index and "/results/113/district/kl-test" in index
    city = _page(client, "/results/113/city")
    assert "全市運算思維普測結果" in city
    svgs = _svgs(city)
    assert len(svgs) >= 7 and all(s.get("role") == "img" for s in svgs)
    assert 'data-unit="es-tiny"' in city and "不公布" in city  # the small school shows as suppressed
    assert "/results/113/school/es-a" in city  # schools link to their pages
    english = _page(client, "/results/113/city?lang=en")
    assert "City computational-thinking census results" in english and "suppressed" in english
    district = _page(client, "/results/113/district/kl-test")
    assert "es-b學校" in district and _svgs(district)
    school = _page(client, "/results/113/school/es-b")
    assert "es-b學校" in school and 'data-table="items"' in school and "/results/113/school/es-b/report.pdf" in school
    assert client.get("/results/113/district/nowhere").status_code == 404
    assert client.get("/results/113/planet/x").status_code == 404


def test_every_table_of_a_page_downloads_as_csv_and_xlsx_and_is_audited(client, census, db) -> None:  # type: ignore[no-untyped-def]
    _login(client, "bureau1", "bureau-pass")
    city = _page(client, "/results/113/city")
    links = sorted(set(re.findall(r'href="(/results/113/city/tables/[a-z_]+\.(?:csv|xlsx))"', city)))
    assert {"/results/113/city/tables/schools.csv", "/results/113/city/tables/trend.xlsx"} <= set(links)
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link
        if link.endswith(".csv"):
            rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
            assert rows, link
        else:
            assert response.data[:2] == b"PK"
    schools = list(csv.DictReader(io.StringIO(client.get("/results/113/city/tables/schools.csv").get_data(as_text=True))))
    tiny = next(r for r in schools if r["unit"] == "es-tiny")
    assert tiny["suppressed"] == "true" and tiny["mean"] == "" and tiny["n"] == ""
    items = client.get("/results/113/school/es-b/tables/items.csv")
    assert items.status_code == 200 and "city_pct" in items.get_data(as_text=True).splitlines()[0]
    assert client.get("/results/113/city/tables/nope.csv").status_code == 404
    targets = db.scalars(select(AuditEntry.target).where(AuditEntry.action == "results.export")).all()
    assert "web:113:city:city:schools.csv" in targets and "web:113:school:es-b:items.csv" in targets


def test_school_admin_gets_their_school_and_403_elsewhere(client, census) -> None:  # type: ignore[no-untyped-def]
    _login(client, "boss-b", "school-pass")
    index = _page(client, "/results")
    assert "/results/113/school/es-b" in index and "/results/113/city" not in index
    school = _page(client, "/results/113/school/es-b")
    assert "/results/113/class/es-b-c1" in school
    for url in ("/results/113/school/es-a", "/results/113/city", "/results/113/district/kl-test",
                "/results/113/class/es-a-c1", "/results/113/student/es-a-c1-01",
                "/results/113/school/es-a/tables/items.csv", "/results/113/school/es-a/report.pdf",
                "/results/113/city/tables/schools.csv"):
        assert client.get(url).status_code == 403, url
    _page(client, "/results/113/class/es-b-c1")


def test_teacher_reads_their_class_and_prints_a_students_report(client, census) -> None:  # type: ignore[no-untyped-def]
    _login(client, "teach-a", "teacher-pass")
    index = _page(client, "/results")
    assert "/results/113/class/es-a-c1" in index
    klass = _page(client, "/results/113/class/es-a-c1")
    assert klass.count('data-student="') == 60 and "/results/113/student/es-a-c1-01" in klass
    assert 'data-table="items"' in klass
    report = _page(client, "/results/113/student/es-a-c1-01")
    assert "王同學1" in report and "<button type=\"button\" data-print>" in report and "results-print.css" in report
    script = client.get("/static/results.js")
    assert "window.print()" in script.get_data(as_text=True)  # the button's handler (the CSP forbids inline ones)
    script.close()
    assert "萌芽" in report and "精熟" in report  # every level with what it means
    assert len(_svgs(report)) == 2  # the score band and the dimension profile
    for url in ("/results/113/school/es-a", "/results/113/class/es-b-c1", "/results/113/student/es-b-c1-01",
                "/results/113/city"):
        assert client.get(url).status_code == 403, url


def test_researchers_see_pseudonymous_city_pages_only(client, census) -> None:  # type: ignore[no-untyped-def]
    _login(client, "res", "research-pass")
    city = _page(client, "/results/113/city")
    assert "es-a學校" not in city and 'data-unit="es-a"' not in city and "/results/113/school/" not in city
    assert client.get("/results/113/school/es-a").status_code == 403
    assert client.get("/results/113/class/es-a-c1").status_code == 403


def test_xss_through_names_never_reaches_a_page(client, census, db) -> None:  # type: ignore[no-untyped-def]
    from assessment.models import School, Student

    school = db.scalar(select(School).where(School.source_id == "es-b"))
    school.name_zh = '<script>alert("s")</script>'
    student = db.scalar(select(Student).where(Student.source_id == "es-b-c1-01"))
    student.given_name = "<img src=x onerror=alert(1)>"
    db.commit()
    _login(client, "bureau1", "bureau-pass")
    for url in ("/results/113/city", "/results/113/school/es-b", "/results/113/class/es-b-c1",
                "/results/113/student/es-b-c1-01"):
        html = _page(client, url)
        assert "<script>alert" not in html and "<img src=x" not in html, url


def test_school_report_downloads_as_a4_pdf(client, census) -> None:  # type: ignore[no-untyped-def]
    pypdf = pytest.importorskip("pypdf")
    _login(client, "bureau1", "bureau-pass")
    response = client.get("/results/113/school/es-b/report.pdf?lang=en")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/pdf" and response.data[:5] == b"%PDF-"
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    width, height = (float(x) for x in reader.pages[0].mediabox.upper_right)
    assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2  # A4 in points
    text = "".join(p.extract_text() for p in reader.pages)
    assert "census results" in text and "Items: what to reteach" in text


def test_items_show_as_students_saw_them_options_and_images_but_never_the_key(client, census) -> None:  # type: ignore[no-untyped-def]
    _login(client, "bureau1", "bureau-pass")
    html = _page(client, "/results/113/school/es-b?lang=en")
    previews = re.findall(r'<div class="item-preview-body".*?</div>\s*</details>', html, flags=re.S)
    assert previews
    assert "{{img:" not in html  # image placeholders became images
    assert any('<ol class="item-list">' in p for p in previews)  # options of choice items
    assert any('<div class="item-matching">' in p for p in previews)  # both lists of a matching item
    assert any('src="data:image/svg+xml;base64,' in p for p in previews)
    assert '"key"' not in html and "rationale" not in html.lower()
