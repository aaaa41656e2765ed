"""A live server and a small class with tickets, for tests that talk HTTP (browser, load scenario).

The app is served on 127.0.0.1 and a free port from a background thread;
`LiveServer.outage` simulates a dead network by dropping connections.
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest


@dataclass
class LiveServer:
    url: str
    app: Any
    requests: list[str]  # "METHOD /path" of every request that reached the app
    dropped: list[str]   # "METHOD /path" of every request cut off by a simulated outage
    outage: threading.Event  # while set, every connection is dropped before the app sees it


class _Recorder:
    """WSGI middleware noting each request, and dropping connections during a simulated outage.

    Chromium's offline emulation and Playwright's routes act on the page; a page controlled by a
    Service Worker sends some requests past both now and then. Cutting the connection at the
    server makes an outage certain: the browser sees a dead network (fetch rejects), the app
    sees nothing.
    """

    def __init__(self, app: Any, log: list[str], dropped: list[str], outage: threading.Event) -> None:
        self.app = app
        self.log = log
        self.dropped = dropped
        self.outage = outage

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        line = f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}"
        if self.outage.is_set():
            self.dropped.append(line)
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionResetError("simulated network outage")  # werkzeug drops it quietly
        self.log.append(line)
        return self.app(environ, start_response)


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The app served on 127.0.0.1 and a free port, in a background thread."""
    from werkzeug.serving import make_server

    log: list[str] = []
    dropped: list[str] = []
    outage = threading.Event()
    server = make_server("127.0.0.1", 0, _Recorder(app, log, dropped, outage), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app, requests=log,
                         dropped=dropped, outage=outage)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


# One operational grade-5 item of each type from the starter bank (the form covers all six).
FORM_ITEMS = {
    "single_choice": "d1-lunch-table-question",
    "multiple_response": "d2-bus-every-15",
    "ordering": "d3-plate-stack",
    "matching": "d3-robot-letters",
    "short_answer": "d3-loop-lanterns",
    "grid_path": "d3-grid-school-gate",
}


@dataclass
class DemoTest:
    session_id: int
    form_id: int
    rows: list[Any]              # assessment.sessions.TicketRow, by seat
    item_ids: list[str]


def seed_small_class(db: Any) -> tuple[Any, Any]:
    """The starter bank, a grade-5 class of three (王小明, 林美美, 陳大同) at school es-test, an open
    test window "113-test" and form "E2E" with one item of each type; returns (class, form)."""
    from assessment import forms, item_store, windows
    from assessment.db import utcnow
    from assessment.models import District, School, SchoolClass, Student
    from item_bank.loader import content_dir, load_bank

    item_store.import_items(db, list(load_bank(content_dir())), actor="test", source="starter bank")
    district = District(source_id="kl-test", name_zh="中正區", name_en="Zhongzheng")
    school = School(source_id="es-test", district=district, name_zh="測試國小", name_en="Test Elementary",
                    level="elementary")
    klass = SchoolClass(source_id="es-test-501", school=school, grade=5, name="五年一班")
    db.add_all([district, school, klass])
    for family, given, seat in [("王", "小明", 1), ("林", "美美", 2), ("陳", "大同", 3)]:
        db.add(Student(source_id=f"es-test-s{seat}", school_class=klass, family_name=family,
                       given_name=given, seat_number=seat, gender=""))
    now = utcnow()
    windows.create_window(db, "113-test", "113 學年度普測（測試）", now - timedelta(days=1),
                          now + timedelta(days=7), actor="test")
    blueprint = forms.default_blueprint(db, 5, per_dimension=2, anchors=0, time_limit_minutes=35)
    form = forms.build_forms(db, blueprint, code="E2E", actor="test")[0]
    forms.update_form(db, form.id, item_ids=list(FORM_ITEMS.values()), actor="test")
    return klass, form


@pytest.fixture
def demo_test(live_server: LiveServer) -> DemoTest:
    """The small class of `seed_small_class` with a session open and its tickets."""
    from assessment import sessions

    db = live_server.app.extensions["ctcensus"].sessions()
    try:
        klass, form = seed_small_class(db)
        test_session = sessions.create_session(db, class_id=klass.id, form_id=form.id, minutes=35,
                                               window_code="113-test", actor="test")
        db.commit()
        rows = sessions.ticket_sheet(db, test_session.id)
        return DemoTest(session_id=test_session.id, form_id=form.id, rows=rows, item_ids=list(FORM_ITEMS.values()))
    finally:
        db.close()
