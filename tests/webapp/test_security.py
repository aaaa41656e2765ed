"""Web security defects of issue 8: the login redirect, staff-session invalidation, security headers."""
import re
from urllib.parse import quote

import pytest
from werkzeug.routing import AnyConverter

from assessment.accounts import create_user
from webapp.extensions import services


def _csrf(page: bytes) -> str:
    match = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert match, "page has no CSRF token"
    return match.group(1).decode()


def _make_user(app, username="res", password="research-pass", role="researcher") -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        session = services().sessions()
        create_user(session, username, password, role)
        session.commit()
        session.close()


def _login(client, username="res", password="research-pass", next_=None):  # type: ignore[no-untyped-def]
    token = _csrf(client.get("/login").data)
    url = "/login" if next_ is None else "/login?next=" + quote(next_, safe="")
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


# --- issue 8 item 2: open redirect after login -------------------------------------------------

@pytest.mark.parametrize("target", [
    "/\t/evil.example/phish",        # the reported case: browsers drop the tab and read //evil.example
    "/\n/evil.example/phish",
    "/\r/evil.example/phish",
    "//evil.example/phish",
    "/\\evil.example/phish",         # browsers read a backslash as a slash
    "\\\\evil.example/phish",
    "/\\/evil.example",
    " //evil.example/phish",         # leading space and C0 controls are stripped by browsers
    "\x01//evil.example",
    "https://evil.example/phish",
    "javascript:alert(1)",
    "evil.example/phish",
    "/x\x00y",
    "/\x7f/evil.example",
])
def test_login_never_redirects_off_site(app, client, target) -> None:  # type: ignore[no-untyped-def]
    _make_user(app)
    response = _login(client, next_=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/results", repr(response.headers["Location"])  # a researcher's landing


@pytest.mark.parametrize("target", ["/items", "/items?grade=5&dimension=D3", "/proctor/sessions/1#live"])
def test_login_keeps_an_on_site_next(app, client, target) -> None:  # type: ignore[no-untyped-def]
    _make_user(app)
    response = _login(client, next_=target)
    assert response.status_code == 302 and response.headers["Location"] == target


# --- issue 8 item 5: logout must end every copy of the staff session ----------------------------

def _copy_cookies(src, dst) -> None:  # type: ignore[no-untyped-def]
    for cookie in src._cookies.values():
        dst.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_a_copied_cookie_is_refused_after_logout(app, client) -> None:  # type: ignore[no-untyped-def]
    _make_user(app)
    assert _login(client).status_code == 302
    thief = app.test_client()
    _copy_cookies(client, thief)
    assert thief.get("/items").status_code == 200  # the copy works while the session is live
    client.post("/logout", data={"csrf_token": _csrf(client.get("/home").data)})
    assert thief.get("/items").status_code == 302  # ...and not after the user logged out
    assert thief.get("/home").headers["Location"].startswith("/login")
    assert _login(client).status_code == 302 and client.get("/items").status_code == 200  # a new login works


def test_password_change_and_sign_out_everywhere_end_sessions(app, client) -> None:  # type: ignore[no-untyped-def]
    from assessment import accounts
    from assessment.models import AuditEntry, User

    _make_user(app)
    for change in ("password", "signout"):
        assert _login(client).status_code == 302 and client.get("/items").status_code == 200
        with app.app_context():
            session = services().sessions()
            user = session.query(User).filter_by(username="res").one()
            if change == "password":
                accounts.change_password(session, user, "research-pass", actor="res")  # same text, new version
            else:
                accounts.sign_out_everywhere(session, user, actor="admin")
            session.commit()
            session.close()
        assert client.get("/items").status_code == 302, change
    with app.app_context():
        session = services().sessions()
        actions = [e.action for e in session.query(AuditEntry).order_by(AuditEntry.id)]
        session.close()
    assert "user.password" in actions and "user.signout_all" in actions


def test_cli_signout_all_ends_sessions_and_is_audited(app, client, run_cli) -> None:  # type: ignore[no-untyped-def]
    from assessment.models import AuditEntry

    _make_user(app)
    assert _login(client).status_code == 302 and client.get("/items").status_code == 200
    result = run_cli("users", "signout-all", "res")
    assert result.exit_code == 0 and "res" in result.output
    assert client.get("/items").status_code == 302
    missing = run_cli("users", "signout-all", "nobody")
    assert missing.exit_code == 1 and "no user 'nobody'" in missing.output
    with app.app_context():
        session = services().sessions()
        assert session.query(AuditEntry).filter_by(action="user.signout_all", target="res").count() == 1
        session.close()


# --- issue 8 item 8: security headers on every response -----------------------------------------

def _check_headers(path: str, response) -> None:  # type: ignore[no-untyped-def]
    headers = response.headers
    assert headers.get("X-Frame-Options") == "DENY", path
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, (path, csp)
    assert headers.get("X-Content-Type-Options") == "nosniff", path
    assert headers.get("Referrer-Policy"), path


def _get_paths(app) -> list[str]:  # type: ignore[no-untyped-def]
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        choices = {arg: sorted(c.items)[0] for arg, c in rule._converters.items() if isinstance(c, AnyConverter)}
        values = {arg: choices.get(arg, "app.css" if arg == "filename" else "1") for arg in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            paths.append(url_for(rule.endpoint, **values))
    return sorted(set(paths))


@pytest.mark.parametrize("logged_in", [False, True])
def test_every_get_route_sends_security_headers(app, client, logged_in) -> None:  # type: ignore[no-untyped-def]
    if logged_in:
        _make_user(app, "boss", "admin-password", "admin")
        assert _login(client, "boss", "admin-password").status_code == 302
    paths = _get_paths(app)
    assert {"/login", "/home", "/items", "/healthz", "/take"} <= set(paths)
    for path in paths + ["/no-such-page", "/api/v1/no-such-thing"]:
        response = client.get(path)
        response.close()  # static files are streamed from an open file
        _check_headers(path, response)


def test_a_pages_own_stricter_csp_is_kept(client) -> None:  # type: ignore[no-untyped-def]
    csp = client.get("/take").headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and csp.count("frame-ancestors") == 1
