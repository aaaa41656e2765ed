"""Staff login and logout (rate-limited per IP and per username, CSRF-protected)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from assessment import accounts, audit
from assessment.errors import TooManyRequests, Unauthorized
from assessment.hotstate import RateLimited, address_key

from ..extensions import db_session, services
from ..i18n import gettext as _
from ..security import check_csrf, login_user, logout_user, safe_next

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return render_template("login.html")
    check_csrf()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    svc = services()
    limit = svc.settings.login_rate_per_minute
    ip_key = f"login:fail:ip:{address_key(request.remote_addr)}"
    user_key = f"login:user:{username.lower()}"
    # Counted before the password check, atomically, so parallel guesses cannot all pass a check
    # nothing has recorded yet. Per IP only failures count (a school's staff share one NAT
    # address): the slot is given back when the password is right. Per username every try counts.
    try:
        svc.limiter.hit(ip_key, limit)
        try:
            svc.limiter.hit(user_key, limit)
        except RateLimited:
            svc.limiter.release(ip_key)
            raise
    except RateLimited as exc:
        raise TooManyRequests(_("login.rate_limited", seconds=exc.retry_after), retry_after=exc.retry_after) from None
    session = db_session()
    try:
        user = accounts.authenticate(session, username, password)
    except Unauthorized:
        flash(_("login.failed"), "error")
        return render_template("login.html", username=username), 401
    except Exception:
        svc.limiter.release(ip_key)  # not a wrong password
        raise
    svc.limiter.release(ip_key)
    svc.limiter.reset(user_key)
    audit.record(session, user.username, "auth.login", ip=request.remote_addr or "")
    session.commit()
    login_user(user)
    return redirect(safe_next(request.args.get("next")) or url_for("main.home"))


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    check_csrf()
    logout_user()
    return redirect(url_for("main.index"))
