"""The city overview on the web: bureau and admin only, the JSON the page polls, one computation for many readers."""
from __future__ import annotations

from typing import Any

import pytest

from assessment.accounts import create_user
from assessment.presence import Presence

from ..assessment.factories import seed_test_day
from .test_results_web import _login

SECRET = "test-secret-key-0123456789"
PAGES = ("/overview", "/overview/districts/kl-a", "/overview/schools/es-a1")
APIS = ("/overview/api/city", "/overview/api/districts/kl-a", "/overview/api/schools/es-a1")


@pytest.fixture
def city(db, app) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    svc = app.extensions["ctcensus"]
    data = seed_test_day(db, Presence(svc.redis, svc.redis_prefix), secret_key=SECRET)
    create_user(db, "bureau1", "bureau-pass", "bureau")
    create_user(db, "root", "admin-pass", "admin")
    create_user(db, "boss", "school-pass", "school_admin", school_source_id="es-a1")
    create_user(db, "proc", "proctor-pass", "proctor", school_source_id="es-a1")
    create_user(db, "res", "research-pass", "researcher")
    create_user(db, "teach", "teacher-pass", "teacher", school_source_id="es-a1", class_source_ids=["es-a1-c1"])
    db.commit()
    return data


@pytest.mark.parametrize("username,password", [("boss", "school-pass"), ("proc", "proctor-pass"),
                                               ("res", "research-pass"), ("teach", "teacher-pass")])
def test_every_other_role_gets_403(client, city, username, password) -> None:  # type: ignore[no-untyped-def]
    _login(client, username, password)
    for url in PAGES + APIS:
        response = client.get(url)
        assert response.status_code == 403, url
    assert client.get("/overview/api/city").get_json()["error"] == "forbidden"
    assert "/overview" not in client.get("/home").get_data(as_text=True)  # no link for them either


def test_anonymous_are_sent_to_login_or_get_401(client, city) -> None:  # type: ignore[no-untyped-def]
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    for url in APIS:
        response = client.get(url)
        assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize("username,password", [("bureau1", "bureau-pass"), ("root", "admin-pass")])
def test_bureau_and_admin_read_every_level(client, city, username, password) -> None:  # type: ignore[no-untyped-def]
    _login(client, username, password)
    home = client.get("/home").get_data(as_text=True)
    assert 'href="/overview"' in home and "全市施測概況" in home  # in the nav and on the home page
    for url in PAGES + APIS:
        assert client.get(url).status_code == 200, url


def test_the_json_the_page_polls(client, city) -> None:  # type: ignore[no-untyped-def]
    _login(client, "bureau1", "bureau-pass")
    response = client.get("/overview/api/city")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"level", "title", "crumbs", "window", "computed_at", "as_of_text", "presence_available",
                         "summary", "tables", "problems", "refresh_seconds"}
    assert body["level"] == "city" and body["window"] == {"code": "113", "name": "113 學年度普測"}
    assert body["presence_available"] is True and body["refresh_seconds"] == 12
    summary = {s["k"]: s["n"] for s in body["summary"]}
    assert summary == {"students": 13, "not_joined": 3, "joined": 1, "in_progress": 3, "submitted": 4,
                       "timed_out": 2, "percent_done": pytest.approx(6 / 13 * 100), "offline": 2, "running": 2,
                       "untested": 2, "problem_schools": 0}
    assert all(set(s) == {"k", "label", "t", "n", "warn"} and isinstance(s["t"], str) for s in body["summary"])
    assert not any(s["warn"] for s in body["summary"])  # 2 students offline: no problem yet
    tables = {t["id"]: t for t in body["tables"]}
    assert list(tables) == ["districts", "problems", "untested"]
    districts = tables["districts"]
    assert [r["key"] for r in districts["rows"]] == ["kl-a", "kl-b"]
    first = districts["rows"][0]["cells"]
    assert first[0] == {"t": "測試區", "href": "/overview/districts/kl-a?window=113"}
    assert all(len(r["cells"]) == districts["columns"] for r in districts["rows"])
    assert tables["problems"]["rows"] == [] and tables["problems"]["empty"] == "目前沒有狀況。"
    (untested,) = tables["untested"]["rows"]
    assert untested["key"] == "es-a1" and untested["cells"][-1]["t"] == "五年二班、五年三班（已開場次）"
    assert body["problems"] == []
    english = client.get("/overview/api/city?lang=en").get_json()
    assert english["title"] == "City test-day overview"
    assert english["tables"][2]["rows"][0]["cells"][-1]["t"] == "五年二班, 五年三班 (session open)"


def test_a_school_lists_sessions_problems_and_untested_classes(client, city, app) -> None:  # type: ignore[no-untyped-def]
    app.config["OVERVIEW_THRESHOLDS"] = {"many_students": 2}  # two offline children are "many" here
    _login(client, "bureau1", "bureau-pass")
    body = client.get("/overview/api/schools/es-a1").get_json()
    assert body["crumbs"][-1]["t"] == "測試區" and body["title"] == "es-a1學校 施測概況"
    assert [s["k"] for s in body["summary"] if s["warn"]] == ["problems"]
    sessions = body["tables"][0]
    assert sessions["id"] == "sessions" and sessions["columns"] == 14  # no live-view column for the bureau
    s1 = next(r for r in sessions["rows"] if r["key"] == str(city["s1"].id))
    texts = [c["t"] for c in s1["cells"]]
    assert texts[:11] == ["五年一班", "5 年級", "進行中", "8", "1", "1", "3", "1", "2", "38%", "2"]
    assert s1["cls"] == "has-problem"
    assert texts[12] == "⚠ 離線 2/3 人；⚠ 停滯 2/3 人（10 分鐘沒有存答）；⚠ 未開始 2/8 人（全班開始已逾 10 分鐘）"
    assert body["problems"][0] == {"kind": "offline", "district": "kl-a", "school": "es-a1", "class": "五年一班",
                                   "session_id": city["s1"].id, "count": 2, "of": 3, "minutes": 1}
    assert [(p["kind"], p["count"], p["of"]) for p in body["problems"]] == [
        ("offline", 2, 3), ("stalled", 2, 3), ("late", 2, 8)]
    waiting = next(r for r in sessions["rows"] if r["key"] == str(city["s3"].id))
    assert waiting["cells"][2] == {"t": "等待開始", "c": "badge ss-waiting"}
    classes = {r["cells"][0]["t"]: r["cells"][3]["t"] for r in body["tables"][1]["rows"]}
    assert classes == {"五年二班": "尚無場次", "五年三班": "已開場次，尚無學生開始"}
    page = client.get("/overview/schools/es-a1").get_data(as_text=True)
    assert "/proctor/sessions/" not in page  # the bureau cannot proctor
    assert "至少 2 人" in page  # the thresholds in force are explained on the page
    assert client.get("/overview/api/schools/nope").status_code == 404
    assert client.get("/overview/api/schools/nope").get_json()["error"] == "no_school"


def test_admins_get_links_to_each_live_view(client, city) -> None:  # type: ignore[no-untyped-def]
    _login(client, "root", "admin-pass")
    body = client.get("/overview/api/schools/es-a1").get_json()
    sessions = body["tables"][0]
    assert sessions["columns"] == 15
    s1 = next(r for r in sessions["rows"] if r["key"] == str(city["s1"].id))
    assert s1["cells"][-1] == {"t": "即時監看", "href": f"/proctor/sessions/{city['s1'].id}",
                               "label": f"即時監看 五年一班（場次 {city['s1'].id}）"}
    assert client.get(s1["cells"][-1]["href"]).status_code == 200
    page = client.get("/overview/schools/es-a1")
    assert f'href="/proctor/sessions/{city["s1"].id}"' in page.get_data(as_text=True)


def test_the_page_without_javascript_is_the_same_snapshot(client, city) -> None:  # type: ignore[no-untyped-def]
    _login(client, "bureau1", "bureau-pass")
    response = client.get("/overview")
    page = response.get_data(as_text=True)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert '<html lang="zh-TW">' in page and "<h1>全市施測概況</h1>" in page
    assert 'data-rows="districts"' in page and 'tr data-key="kl-a"' in page
    assert '<th scope="col" class="num">完成率</th>' in page and 'data-sum="students">13<' in page
    assert "五年二班、五年三班（已開場次）" in page and "目前沒有狀況。" in page
    assert "本頁約每 12 秒自動更新" in page and "<noscript>" in page
    assert "超過 90 秒沒有任何連線" in page  # the thresholds, explained
    english = client.get("/overview/districts/kl-a?lang=en").get_data(as_text=True)
    assert "Test: test-day overview" in english and "Classes not yet tested" in english


def test_many_readers_one_computation(client, city, app) -> None:  # type: ignore[no-untyped-def]
    _login(client, "bureau1", "bureau-pass")
    for url in APIS * 5 + PAGES * 2:
        assert client.get(url).status_code == 200
    cache = app.extensions["ctcensus.overview_cache"]
    assert cache.computed == 1  # within the 5 s, every page and level came from one snapshot


def test_no_window_yet(client, db, app) -> None:  # type: ignore[no-untyped-def]
    create_user(db, "bureau1", "bureau-pass", "bureau")
    db.commit()
    _login(client, "bureau1", "bureau-pass")
    assert "目前沒有測驗期間" in client.get("/overview").get_data(as_text=True)
    response = client.get("/overview/api/city")
    assert response.status_code == 404 and response.get_json()["error"] == "no_window"
