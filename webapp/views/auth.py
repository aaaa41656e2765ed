"""Staff login and logout (failures limited per username and address, see assessment.throttle; CSRF-protected)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from assessment import accounts, audit
from assessment.errors import TooManyRequests, Unauthorized
from assessment.hotstate import RateLimited
from assessment.throttle import StaffLoginThrottle

from ..extensions import db_session, services
from ..i18n import gettext as _
from ..security import check_csrf, login_user, logout_user, safe_next

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("login.html")
    check_csrf()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    svc = services()
    throttle = StaffLoginThrottle(svc.limiter, svc.settings.login_rate_per_minute)
    address = request.remote_addr
    try:
        throttle.before(username, address)
    except RateLimited as exc:
        raise TooManyRequests(_("login.rate_limited", seconds=exc.retry_after), retry_after=exc.retry_after) from None
    session = db_session()
    try:
        user = accounts.authenticate(session, username, password)
    except Unauthorized:
        throttle.failed(username, address)
        flash(_("login.failed"), "error")
        return render_template("login.html", username=username), 401
    except Exception:
        throttle.aborted(username, address)  # not a wrong password
        raise
    throttle.succeeded(username, address)
    audit.record(session, user.username, "auth.login", ip=request.remote_addr or "")
    session.commit()
    login_user(user)
    # readers of results land on their dashboards; everyone else on the home page with their tools
    landing = "results.index" if user.role in ("bureau", "researcher", "school_admin", "teacher") else "main.home"
    return redirect(safe_next(request.args.get("next")) or url_for(landing))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    check_csrf()
    logout_user()
    return redirect(url_for("main.index"))
