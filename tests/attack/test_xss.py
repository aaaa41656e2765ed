"""XSS through item text, roster names (school, district, class, student), staff names and short answers,
into every view that shows them: the proctor console, live view, ticket sheet and status JSON, the city
overview, the results pages of every level (both languages), the item bank, and the student API.

Item text enters the way a foreign item does (item_bank.build_item, what YAML and QTI import use), so
what is stored is what the sanitiser kept; roster names are stored as they are (the roster importer
refuses only control, bidi and zero-width characters), so every page must escape them. An HTML page
passes when no payload appears raw, and a parse (html.parser) finds no inline script that runs the
payload, no event-handler attribute, no javascript: URL, and every JSON block still parses.
"""
from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment.models import District, ItemRecord, School, SchoolClass, Student, User
from item_bank import build_item

from .conftest import World, bearer, staff_client, student_token

PAYLOADS = {
    "school": '<script>alert("school")</script>',
    "school_en": '"><img src=x onerror=alert(1)>',
    "district": "javascript:alert(document.cookie)",
    "district_en": "</script><script>alert(2)</script>",
    "class": "<img src=x onerror=alert(3)>",
    "given": "<script>alert(4)</script>",
    "family": '"><svg onload=alert(5)>',
    "staff": "'><iframe src=javascript:alert(6)>",
}
SHORT_ANSWER = '<script>alert("answer")</script>'
ITEM_PAYLOAD = ('<script>alert("item")</script><img src=x onerror=alert(7)><a href="javascript:alert(8)">x</a>'
                '<svg onload=alert(9)></svg><p onclick="alert(10)">click</p><iframe src="javascript:alert(11)">')
# Markup that must never appear as it is (a javascript: text is harmless as text: the scan checks URLs)
RAW = [p for p in (*PAYLOADS.values(), SHORT_ANSWER, '<script>alert("item")</script>', "onerror=alert(7)") if "<" in p]
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcdoc"}


class _Scan(HTMLParser):
    """Collects what would run in a browser: inline scripts, handlers, javascript: URLs, broken JSON blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._script: str | None = None  # "js" or "json" while inside a <script>
        self._data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name in URL_ATTRIBUTES and value and "".join(value.split()).lower().startswith(("javascript:",
                                                                                              "vbscript:")):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag in ("iframe", "object", "embed", "frame"):
            self.problems.append(f"<{tag}>")
        if tag == "script":
            kind = dict(attrs).get("type") or ""
            self._script = "json" if kind == "application/json" else "js"
            if self._script == "js" and not dict(attrs).get("src"):
                self.problems.append("an inline <script>")
            self._data = []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._data.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            text = "".join(self._data)
            if self._script == "json":
                try:
                    json.loads(text)
                except ValueError:
                    self.problems.append(f"a JSON block that no longer parses: {text[:120]!r}")
            elif "alert(" in text:
                self.problems.append(f"script text {text[:120]!r}")
            self._script = None


def problems_in(html: str) -> list[str]:
    """Everything in `html` that would run a payload (empty for a safe page)."""
    found = [f"raw payload {p!r}" for p in RAW if p in html]
    scan = _Scan()
    scan.feed(html)
    scan.close()
    return found + scan.problems


def test_the_scanner_finds_each_payload_when_it_is_not_escaped() -> None:
    """The control for the checks below: every payload, pasted raw into a page, is caught."""
    page = '<html><body><script type="application/json">{"a": 1}</script><p>{}</p><a href="/x">x</a></body></html>'
    for payload in [*PAYLOADS.values(), SHORT_ANSWER, ITEM_PAYLOAD]:
        where = page.replace('"/x"', f'"{payload}"') if payload.startswith("javascript:") else page
        assert problems_in(where.replace("{}", payload)), payload
    assert problems_in(page.replace("{}", "").replace("{\"a\": 1}", PAYLOADS["district_en"]))  # a broken JSON block
    from markupsafe import escape

    for payload in [*PAYLOADS.values(), SHORT_ANSWER, ITEM_PAYLOAD]:
        assert not problems_in(page.replace("{}", str(escape(payload)))), payload


def _poison_text(text: dict[str, str] | None) -> dict[str, str] | None:
    if not text:
        return text
    return {lang: value + ITEM_PAYLOAD for lang, value in text.items()}


def _poison_item(content: dict[str, Any]) -> dict[str, Any]:
    """The item as an author could send it with script in its stem and every option (then sanitised on import)."""
    data = copy.deepcopy(content)
    data["stem"] = _poison_text(data.get("stem"))
    for key in ("options", "left", "right"):
        for entry in data.get(key) or []:
            entry["text"] = _poison_text(entry.get("text"))
    return build_item(data).to_dict()


def _poison(db: Session, world: World) -> None:
    """Script payloads in every name a page shows, and in every stored item (as imported)."""
    school = db.scalar(select(School).where(School.source_id == world.a.source_id))
    assert school is not None
    school.name_zh, school.name_en = PAYLOADS["school"], PAYLOADS["school_en"]
    district = db.get(District, school.district_id)
    assert district is not None
    district.name_zh, district.name_en = PAYLOADS["district"], PAYLOADS["district_en"]
    for klass in db.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id)):
        klass.name = PAYLOADS["class"]
        for student in db.scalars(select(Student).where(Student.class_id == klass.id)):
            student.given_name, student.family_name = PAYLOADS["given"], PAYLOADS["family"]
    for user in db.scalars(select(User)):
        user.display_name = PAYLOADS["staff"]
    for record in db.scalars(select(ItemRecord)):
        record.content = _poison_item(record.content)
    db.commit()
    stored = json.dumps(db.scalars(select(ItemRecord.content)).all())
    db.commit()  # SQLite: end the read, it holds the write lock (BEGIN IMMEDIATE)
    assert "<script" not in stored and "onerror" not in stored  # what import keeps


def _answer_with_markup(client: FlaskClient, world: World) -> str:
    token = student_token(client, world.a.tickets[0])
    item = world.items["short_answer"]
    saved = client.put(f"/api/v1/attempt/answers/{item.id}", headers=bearer(token),
                       json={"seq": 1, "response": {"text": SHORT_ANSWER}})
    assert saved.status_code == 200
    return token


def _html(client: FlaskClient, url: str) -> str:
    """The page, which must also forbid inline script by its CSP (the second line of defence)."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response.mimetype == "text/html", (url, response.mimetype)
    policy = {d.split()[0]: d.split()[1:] for d in response.headers["Content-Security-Policy"].split(";") if d.strip()}
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts and "'unsafe-inline'" not in scripts and "*" not in scripts, (url, policy)
    return response.get_data(as_text=True)


def _json_view(client: FlaskClient, url: str, headers: dict[str, str] | None = None) -> Any:
    response = client.get(url, headers=headers or {})
    assert response.status_code == 200, (url, response.status_code)
    assert response.mimetype == "application/json" and response.headers["X-Content-Type-Options"] == "nosniff", url
    return response.get_json()


def test_no_payload_runs_in_any_staff_view(app: Flask, db: Session, census_world: World) -> None:
    world = census_world
    _poison(db, world)
    _answer_with_markup(app.test_client(), world)
    a, klass = world.a.source_id, f"{world.a.source_id}-c1"
    pages = {
        "root": ["/home", "/proctor", f"/proctor/sessions/{world.a.session_id}",
                 f"/proctor/sessions/{world.a.session_id}/tickets", "/overview", "/overview/districts/kl-test",
                 f"/overview/schools/{a}", "/items", "/results", "/results/113/city", "/results/113/district/kl-test",
                 f"/results/113/school/{a}", f"/results/113/class/{klass}", f"/results/113/student/{klass}-01"],
        "a-admin": ["/results", f"/results/113/school/{a}", f"/results/113/class/{klass}", "/proctor"],
        "a-teacher": ["/results", f"/results/113/class/{klass}", f"/results/113/student/{klass}-01"],
        "researcher": ["/results/113/city", "/results/113/district/kl-test", "/items"],
    }
    failures: list[str] = []
    for username, urls in pages.items():
        client, _ = staff_client(app, username)
        for url in urls:
            for lang in ("zh-TW", "en"):
                found = problems_in(_html(client, f"{url}?lang={lang}"))
                failures.extend(f"{username} {url}?lang={lang}: {p}" for p in found)
    assert not failures, "\n".join(failures)
    # the names are on the pages, escaped (so the check above looked at them)
    client, _ = staff_client(app, "root")
    live = _html(client, f"/proctor/sessions/{world.a.session_id}/tickets")
    assert "&lt;script&gt;alert(4)&lt;/script&gt;" in live
    school = _html(client, f"/results/113/school/{a}?lang=zh-TW")
    assert "&lt;script&gt;alert(&#34;school&#34;)&lt;/script&gt;" in school or \
        "&lt;script&gt;alert(&quot;school&quot;)&lt;/script&gt;" in school
    assert "<p>click</p>" in school  # the poisoned items are on the page (their previews), as the sanitiser left them


def test_json_views_are_json_and_carry_no_live_markup(app: Flask, db: Session, census_world: World) -> None:
    """Names travel raw inside JSON (the scripts put them in text nodes), served as application/json with
    nosniff so no browser renders them; the item text in them is what the sanitiser kept."""
    world = census_world
    _poison(db, world)
    student = app.test_client()
    token = _answer_with_markup(student, world)
    view = _json_view(student, "/api/v1/attempt", bearer(token))
    assert view["student"]["name"] == PAYLOADS["family"] + PAYLOADS["given"]
    items = json.dumps([i for i in view["items"]])
    assert "<script" not in items and "onerror" not in items and "javascript:" not in items
    assert view["answers"][world.items["short_answer"].id]["response"] == {"text": SHORT_ANSWER}
    login = student.post("/api/v1/login", json={"ticket": world.a.tickets[1]})
    assert login.mimetype == "application/json" and login.headers["X-Content-Type-Options"] == "nosniff"
    client, _ = staff_client(app, "root")
    for url in (f"/proctor/api/sessions/{world.a.session_id}/status", "/overview/api/city",
                "/overview/api/districts/kl-test", f"/overview/api/schools/{world.a.source_id}"):
        _json_view(client, url)


def test_the_player_shell_holds_no_roster_or_item_data(app: Flask, db: Session, census_world: World) -> None:
    """/take is the same for everyone (names and items come later, as JSON): nothing poisoned reaches it."""
    _poison(db, census_world)
    page = _html(app.test_client(), "/take")
    assert not problems_in(page) and "alert(" not in page


REFLECTED = '<script>alert("r")</script>"><img src=x onerror=alert(1)>'
QUERY = ("lang", "window", "next", "grade", "dimension", "status", "level", "breakdown", "school")


def _reflecting_urls(app: Flask) -> list[str]:
    """Every GET route with the payload in each free-text path part (ids stay numbers, any(...) parts valid):
    once everywhere, and once with a real window and kind so that the payload reaches the lookups behind them."""
    from flask import url_for
    from werkzeug.routing import AnyConverter
    from werkzeug.routing.converters import NumberConverter

    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint == "static":
            continue
        for real in ({}, {"code": "113", "kind": "school"}):
            values: dict[str, Any] = {}
            for name, converter in rule._converters.items():
                if isinstance(converter, AnyConverter):
                    values[name] = sorted(converter.items)[0]
                elif isinstance(converter, NumberConverter):
                    values[name] = 1
                else:
                    values[name] = real.get(name, REFLECTED)
            with app.test_request_context():
                urls.append(url_for(rule.endpoint, **values))
    return sorted(set(urls))


def test_no_request_part_is_reflected_as_markup(app: Flask, census_world: World) -> None:
    """Reflected XSS: the payload in each path part and in every query parameter a view reads, signed in as the
    admin (who reaches every view) and anonymous: never a 5xx, and no HTML page runs the payload."""
    from urllib.parse import quote

    client, _ = staff_client(app, "root")
    query = "&".join(f"{name}={quote(REFLECTED)}" for name in QUERY)
    urls = _reflecting_urls(app)
    assert len(urls) > 30
    failures: list[str] = []
    for who, sender in (("root", client), ("anonymous", app.test_client())):
        for url in urls:
            response = sender.get(f"{url}?{query}")
            body = response.get_data(as_text=True)
            response.close()
            if response.status_code >= 500:
                failures.append(f"{who} {url}: {response.status_code}")
            elif response.mimetype == "text/html":
                failures.extend(f"{who} {url}: {p}" for p in problems_in(body) if "alert(\"r\")" in p or "onerror" in p)
            elif "<script>alert" in body and response.mimetype not in ("application/json", "text/csv"):
                failures.append(f"{who} {url}: {response.mimetype} echoes the payload")
    assert not failures, "\n".join(failures)
