"""Proctor pages and JSON: the printable ticket sheet, live class status and proctor actions.

Every action is checked against the user's school (assessment.proctoring.check_access)
and written to the audit log by the service it calls.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request

from assessment import proctoring
from assessment import sessions as session_service
from assessment.errors import InvalidInput, Unauthorized
from assessment.models import TestSession
from assessment.presence import Presence
from assessment.tickets import format_ticket

from ..extensions import db_session, services
from ..security import check_csrf, current_user, role_required

__all__ = ["bp"]

bp = Blueprint("proctor", __name__, url_prefix="/proctor")


def _session_for_staff(session_id: int) -> TestSession:
    user = current_user()
    if user is None:
        raise Unauthorized("sign in as staff first (/login)", code="unauthorized")
    test_session = session_service.get_session(db_session(), session_id)
    proctoring.check_access(user, test_session)
    return test_session


def _actor() -> tuple[str, str]:
    user = current_user()
    return (user.username if user else "anonymous", request.remote_addr or "")


@bp.get("/sessions/<int:session_id>/tickets")
@role_required("proctor", "school_admin")
def tickets(session_id: int):  # type: ignore[no-untyped-def]
    """A printable sheet: one cut-out card per student with name, seat, class, ticket and URL."""
    test_session = _session_for_staff(session_id)
    rows = session_service.ticket_sheet(db_session(), test_session.id)
    return render_template("proctor/tickets.html", test_session=test_session, rows=rows,
                           take_url=request.host_url.rstrip("/") + "/take", format_ticket=format_ticket)


@bp.get("/api/sessions/<int:session_id>/status")
def status(session_id: int):  # type: ignore[no-untyped-def]
    """Live status of the class: joined, in progress, current item, answered, last saved, idle, done."""
    test_session = _session_for_staff(session_id)
    svc = services()
    body = proctoring.live_status(db_session(), test_session.id, Presence(svc.redis, svc.redis_prefix))
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


@bp.post("/api/sessions/<int:session_id>/<any(pause, resume, close):action>")
def session_action(session_id: int, action: str):  # type: ignore[no-untyped-def]
    """Pause, resume or close a session (CSRF token in the X-CSRF-Token header)."""
    test_session = _session_for_staff(session_id)
    check_csrf()
    actor, ip = _actor()
    db = db_session()
    handler = {"pause": proctoring.pause_session, "resume": proctoring.resume_session,
               "close": proctoring.close_session}[action]
    handler(db, test_session.id, actor=actor, ip=ip)
    db.commit()
    return jsonify({"session_id": test_session.id, "status": test_session.status})


@bp.post("/api/attempts/<int:attempt_id>/<any(extend, lock, unlock):action>")
def attempt_action(attempt_id: int, action: str):  # type: ignore[no-untyped-def]
    """Extend one student's time ({"seconds": n} or {"minutes": n}), lock or unlock them."""
    db = db_session()
    attempt = proctoring.get_attempt(db, attempt_id)
    _session_for_staff(attempt.session_id)
    check_csrf()
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
