"""Landing page, staff home and health checks (the item bank pages: views/items.py)."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from assessment.hotstate import redis_available
from assessment.migrate import current_revision, head_revision

from ..extensions import services
from ..security import current_user, role_required

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("index.html", user=current_user())


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness and readiness: database schema at head and Redis answering."""
    svc = services()
    revision = current_revision(svc.engine)
    head = head_revision(svc.engine)
    redis_ok = redis_available(svc.redis)  # False, not an exception, when Redis is dead or hung
    ok = revision == head and redis_ok
    body = {"status": "ok" if ok else "degraded", "schema": revision, "schema_head": head, "redis": redis_ok}
    return jsonify(body), 200 if ok else 503


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """For the load balancer: 200 while this host can serve (database answering, schema at head), Redis or not.

    The app serves students through a Redis outage (answers live in SQL), so a balancer that
    checked `/healthz` (503 without Redis, for monitoring) would take every host out at once.
    """
    svc = services()
    try:
        revision, head = current_revision(svc.engine), head_revision(svc.engine)
    except SQLAlchemyError:
        return jsonify({"status": "unavailable", "database": False}), 503
    ok = revision == head
    return jsonify({"status": "ok" if ok else "degraded", "database": True, "schema": revision,
                    "schema_head": head}), 200 if ok else 503


@bp.get("/home")
@role_required()
def home() -> ResponseReturnValue:
    return render_template("home.html", user=current_user())
