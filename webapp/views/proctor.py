"""Proctor pages and JSON: the console, the live class view, the printable ticket sheet,
live class status and proctor actions.

Every action is checked against the user's school (assessment.proctoring.check_access)
and written to the audit log by the service it calls. The console pages run no inline
script or style: their CSP is as strict as the player's.
"""
from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from assessment import proctoring
from assessment import sessions as session_service
from assessment.errors import Conflict, InvalidInput, NotFound, Unauthorized
from assessment.forms import operational_forms
from assessment.models import TestSession, User
from assessment.presence import Presence
from assessment.tickets import format_ticket
from assessment.windows import selectable_windows

from ..body import json_object
from ..extensions import db_session, services
from ..i18n import catalogue, current_language
from ..i18n import gettext as _
from ..security import STRICT_CSP, check_csrf, csrf_token, current_user, role_required, strict_page

__all__ = ["bp"]

bp = Blueprint("proctor", __name__, url_prefix="/proctor")

POLL_SECONDS = 5
CSP = STRICT_CSP
# Form errors the console explains in the user's language: code -> (field at fault, message key);
# anything else shows proctor.err.other with the service's detail.
_FORM_ERRORS = {
    "no_class": ("class_id", "proctor.err.no_class"),
    "no_form": ("form_id", "proctor.err.no_form"),
    "no_window": ("window", "proctor.err.no_window"),
    "bad_grade": ("class_id", "proctor.err.bad_grade"),
    "bad_form": ("form_id", "proctor.err.bad_form"),
    "bad_window": ("window", "proctor.err.bad_window"),
    "bad_minutes": ("minutes", "proctor.err.bad_minutes"),
    "class_busy": ("class_id", "proctor.err.class_busy"),
}


def _staff_user() -> User:
    """The signed-in staff user; 401 before anything is looked up (no probing ids unauthenticated)."""
    user = current_user()
    if user is None:
        raise Unauthorized("sign in as staff first (/login)", code="unauthorized")
    return user


def _session_for_staff(session_id: int) -> TestSession:
    user = _staff_user()
    test_session = session_service.get_session(db_session(), session_id)
    proctoring.check_access(user, test_session)
    return test_session


def _presence() -> Presence:
    svc = services()
    return Presence(svc.redis, svc.redis_prefix)


_page = strict_page


def _console(values: dict[str, str] | None = None, error: dict[str, Any] | None = None, status: int = 200) -> Response:
    """The console: today's and open sessions of the user's school (all for an admin) and the new-session form."""
    db = db_session()
    school_id = proctoring.school_scope(current_user())
    listed = proctoring.console_sessions(db, school_id=school_id, presence=_presence())
    classes = [c for c in session_service.list_classes(db, school_id=school_id) if c["grade"] in (5, 8)]
    forms = [f for grade in (5, 8) for f in operational_forms(db, grade)]
    windows = selectable_windows(db)
    values = dict(values or {})
    if not values:  # defaults: the first class, the newest form of its grade with its time limit, the open window
        first = next((c for c in classes if c["students"]), classes[0] if classes else None)
        form = next((f for f in forms if first and f.grade == first["grade"]), None)
        values = {"class_id": str(first["id"]) if first else "", "form_id": str(form.id) if form else "",
                  "minutes": str(form.time_limit_minutes) if form else "",
                  "window": windows[0].code if windows else ""}
    busy = None
    if error and error["code"] == "class_busy":
        busy = next((t for t in listed if str(t.class_id) == values.get("class_id")
                     and t.status in ("open", "paused")), None)
    html = render_template("proctor/console.html", sessions=listed, classes=classes, forms=forms, windows=windows,
                           values=values, error=error, busy=busy, show_school=school_id is None,
                           local_time=lambda d: d.astimezone(proctoring.TAIWAN).strftime("%m-%d %H:%M"))
    return _page(html, status)


def _actor() -> tuple[str, str]:
    user = current_user()
    return (user.username if user else "anonymous", request.remote_addr or "")


@bp.get("")
@role_required("proctor", "school_admin")
def console() -> ResponseReturnValue:
    """Today's and open sessions, and the form to open a session for a class."""
    return _console()


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


@bp.post("/sessions")
@role_required("proctor", "school_admin")
def open_session() -> ResponseReturnValue:
    """Open a session for a class (CSRF form post), then go to its live view; bad input shows the form again."""
    check_csrf()
    values = {k: request.form.get(k, "").strip() for k in ("class_id", "form_id", "minutes", "window")}
    class_id, form_id = _int_or_none(values["class_id"]), _int_or_none(values["form_id"])
    minutes = _int_or_none(values["minutes"])
    problem = ("no_class" if class_id is None else "no_form" if form_id is None
               else "bad_minutes" if values["minutes"] and minutes is None else "no_window" if not values["window"]
               else None)
    db = db_session()
    user = current_user()
    assert user is not None  # role_required
    try:
        if problem:
            raise InvalidInput(problem, code=problem)
        assert class_id is not None and form_id is not None
        test_session = proctoring.open_class_session(db, user=user, class_id=class_id, form_id=form_id,
                                                     minutes=minutes, window_code=values["window"])
    except (InvalidInput, NotFound, Conflict) as exc:
        db.rollback()
        field, key = _FORM_ERRORS.get(exc.code, (None, None))
        error = {"code": exc.code, "field": field,
                 "message": _(key) if key else _("proctor.err.other", detail=exc.message)}
        return _console(values, error, 409 if isinstance(exc, Conflict) else 400)
    db.commit()
    flash(_("proctor.opened", cls=test_session.school_class.name, n=len(test_session.attempts)), "ok")
    return redirect(url_for("proctor.live", session_id=test_session.id), code=303)


def console_messages(lang: str) -> dict[str, str]:
    """Every `proctor.*` message in `lang`, for the live view's script."""
    return {key: entry.get(lang) or entry["zh-TW"] for key, entry in catalogue().items() if key.startswith("proctor.")}


@bp.get("/sessions/<id:session_id>")
@role_required("proctor", "school_admin")
def live(session_id: int) -> ResponseReturnValue:
    """The live class view: one row per student, refreshed from the status JSON every few seconds."""
    test_session = _session_for_staff(session_id)
    lang = current_language()
    status = proctoring.live_status(db_session(), test_session.id, _presence())
    config = {
        "lang": lang,
        "sessionId": test_session.id,
        "statusUrl": url_for("proctor.status", session_id=test_session.id),
        # the JS appends "/<action>" (and "/<attempt id>/<action>")
        "sessionActionBase": url_for("proctor.session_action", session_id=test_session.id, action="pause")[:-6],
        "attemptActionBase": url_for("proctor.attempt_action", attempt_id=0, action="lock")[:-7],
        "loginUrl": url_for("auth.login", next=request.path),
        "csrf": csrf_token(),
        "pollSeconds": POLL_SECONDS,
        "messages": console_messages(lang),
        "initial": status,
    }
    html = render_template("proctor/live.html", test_session=test_session, status=status, config=config)
    return _page(html)


@bp.get("/sessions/<id:session_id>/tickets")
@role_required("proctor", "school_admin")
def tickets(session_id: int) -> ResponseReturnValue:
    """A printable sheet: one cut-out card per student with name, seat, class, ticket and URL."""
    test_session = _session_for_staff(session_id)
    rows = session_service.ticket_sheet(db_session(), test_session.id)
    html = render_template("proctor/tickets.html", test_session=test_session, rows=rows,
                           take_url=request.host_url.rstrip("/") + "/take", format_ticket=format_ticket)
    return _page(html)  # tickets are credentials: never cached, same CSP as the console


@bp.get("/api/sessions/<id:session_id>/status")
def status(session_id: int) -> ResponseReturnValue:
    """Live status of the class: joined, in progress, current item, answered, last saved, idle, done."""
    test_session = _session_for_staff(session_id)
    svc = services()
    body = proctoring.live_status(db_session(), test_session.id, Presence(svc.redis, svc.redis_prefix))
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _json() -> dict[str, Any]:
    return json_object(required=False)


@bp.post("/api/sessions/<id:session_id>/<any(pause, resume, close):action>")
def session_action(session_id: int, action: str) -> ResponseReturnValue:
    """Pause, resume or close a session (CSRF token in the X-CSRF-Token header)."""
    _staff_user()
    check_csrf()
    test_session = _session_for_staff(session_id)
    actor, ip = _actor()
    db = db_session()
    handler = {"pause": proctoring.pause_session, "resume": proctoring.resume_session,
               "close": proctoring.close_session}[action]
    handler(db, test_session.id, actor=actor, ip=ip)
    db.commit()
    return jsonify({"session_id": test_session.id, "status": test_session.status})


@bp.post("/api/attempts/<id:attempt_id>/<any(extend, lock, unlock):action>")
def attempt_action(attempt_id: int, action: str) -> ResponseReturnValue:
    """Extend one student's time ({"seconds": n} or {"minutes": n}), lock or unlock them."""
    _staff_user()  # authenticate, and check the CSRF token, before the attempt is looked up (and locked)
    check_csrf()
    db = db_session()
    attempt = proctoring.get_attempt(db, attempt_id)
    _session_for_staff(attempt.session_id)
    actor, ip = _actor()
    if action == "extend":
        data = _json()
        seconds = data.get("seconds")
        if seconds is None and isinstance(data.get("minutes"), int) and not isinstance(data.get("minutes"), bool):
            seconds = data["minutes"] * 60
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise InvalidInput("send {\"seconds\": n} or {\"minutes\": n}", code="bad_json")
        proctoring.extend_time(db, attempt.id, seconds, actor=actor, ip=ip)
    elif action == "lock":
        proctoring.lock_attempt(db, attempt.id, actor=actor, ip=ip)
    else:
        proctoring.unlock_attempt(db, attempt.id, actor=actor, ip=ip)
    db.commit()
    return jsonify({"attempt_id": attempt.id, "status": attempt.status, "locked": attempt.locked,
                    "extra_seconds": attempt.extra_seconds,
                    "deadline_at": proctoring.iso(attempt.deadline_at)})
