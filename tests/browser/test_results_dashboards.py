"""The results dashboards in Debian's Chromium: each role's pages, a suppressed group, a 403, the printed report."""
from __future__ import annotations

import io
from typing import Any

import pytest

from ..live import LiveServer
from .conftest import SHOTS, WIDE, assert_reflows_at_200_percent, screenshot

FOLDER = SHOTS / "results"


def _login(browser: Any, server: LiveServer, username: str, password: str, lang: str = "zh-TW") -> Any:
    context = browser.new_context(viewport=WIDE, locale=lang)
    page = context.new_page()
    page.goto(f"{server.url}/login?lang={lang}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/results")  # readers of results land on their dashboards
    return page


def test_bureau_opens_the_city_and_a_district_and_sees_the_small_school_suppressed(
        browser: Any, live_server: LiveServer, census: None) -> None:
    page = _login(browser, live_server, "bureau1", "bureau-pass")
    page.click("text=全市結果")
    page.wait_for_url("**/results/113/city")
    assert page.locator("h1").inner_text() == "全市運算思維普測結果"
    assert page.locator("figure.chart svg[role=img]").count() >= 7
    # every chart has its title and description for screen readers
    assert page.locator("figure.chart svg title").count() >= 7 and page.locator("figure.chart svg desc").count() >= 7
    page.click("text=顯示資料表 >> nth=1")  # the schools' table sits in a disclosure under the funnel plots
    tiny = page.locator("table[data-table=schools] tr[data-unit=es-tiny]")
    assert "不公布" in tiny.inner_text() and "人數過少" in tiny.inner_text()
    screenshot(page, FOLDER, "city", full_page=True)
    assert_reflows_at_200_percent(page, FOLDER, "city")
    page.click("table[data-table=districts] a >> nth=0")
    page.wait_for_url("**/results/113/district/kl-test")
    assert page.locator("figure.chart svg").count() >= 3
    assert page.locator("table[data-table=schools] tr[data-unit=es-tiny] td.suppressed").count() == 1


def test_school_admin_reads_their_school_and_gets_403_on_another(browser: Any, live_server: LiveServer,
                                                                  census: None) -> None:
    page = _login(browser, live_server, "boss-b", "school-pass")
    page.click("text=本校結果")
    page.wait_for_url("**/results/113/school/es-b")
    assert "es-b學校" in page.locator("h1").inner_text()
    items = page.locator("table[data-table=items] > tbody > tr")
    assert items.count() > 10
    page.locator("table[data-table=items] details summary >> nth=0").click()  # the item, as students saw it
    assert page.locator("table[data-table=items] details[open] .stem").inner_text().strip()
    screenshot(page, FOLDER, "school", full_page=True)
    with page.expect_download() as download:
        page.click("text=下載 PDF 報告")
    assert download.value.suggested_filename == "ctcensus-113-es-b.pdf"
    page.goto(f"{live_server.url}/results/113/school/es-b?lang=en")  # English headers are the widest
    assert_reflows_at_200_percent(page, FOLDER, "school-en")
    response = page.goto(f"{live_server.url}/results/113/school/es-a")
    assert response is not None and response.status == 403
    assert "es-a學校" not in page.content()


def test_teacher_opens_the_class_and_prints_a_students_report_on_one_a4_page(
        browser: Any, live_server: LiveServer, census: None) -> None:
    pypdf = pytest.importorskip("pypdf")
    page = _login(browser, live_server, "teach-a", "teacher-pass")
    page.click("a[href='/results/113/class/es-a-c1']")
    page.wait_for_url("**/results/113/class/es-a-c1")
    assert page.locator("table[data-table=students] > tbody > tr").count() == 60
    assert page.locator("table[data-table=items] > tbody > tr").count() == 10  # the items the class missed most
    screenshot(page, FOLDER, "class", full_page=True)
    assert_reflows_at_200_percent(page, FOLDER, "class")
    page.click("tr[data-student='es-a-c1-01'] a")
    page.wait_for_url("**/results/113/student/es-a-c1-01")
    assert "王同學1" in page.locator("h1").inner_text()
    assert page.locator(".level-row.current").count() == 1
    page.emulate_media(media="print")
    assert not page.locator("header.topbar").is_visible()  # print CSS: no navigation on paper
    pdf = page.pdf(format="A4", print_background=True)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1, f"the student report prints on {len(reader.pages)} pages"
    screenshot(page, FOLDER, "student-print", full_page=True)
