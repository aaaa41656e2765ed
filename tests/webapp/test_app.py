import re

import pytest

from assessment.accounts import create_user
from assessment.config import UnsafeConfigError
from webapp import create_app
from webapp.extensions import services
from webapp.i18n import LANGUAGES, catalogue


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


def _login(client, username="res", password="research-pass"):  # type: ignore[no-untyped-def]
    token = _csrf(client.get("/login").data)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_index_is_zh_tw_first_and_switches_to_english(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/").get_data(as_text=True)
    assert "基隆市運算思維普測" in page and 'lang="zh-TW"' in page
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "Keelung Computational Thinking Census" in page
    assert "Keelung Computational Thinking Census" in client.get("/").get_data(as_text=True)  # cookie remembered


def test_catalogue_has_every_language() -> None:
    for key, entry in catalogue().items():
        assert set(LANGUAGES) <= set(entry), f"{key} lacks a language"


def test_healthz_reports_schema_and_redis(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["redis"] is True and body["schema"] == body["schema_head"]


def test_login_requires_csrf(app, client) -> None:  # type: ignore[no-untyped-def]
    _make_user(app)
    response = client.post("/login", data={"username": "res", "password": "research-pass"})
    assert response.status_code == 400 and "reload the page" in response.get_data(as_text=True)


def test_login_logout_and_roles(app, client) -> None:  # type: ignore[no-untyped-def]
    _make_user(app)
    assert client.get("/items").status_code == 302  # not logged in: to the login page
    response = _login(client)
    assert response.status_code == 302
    assert client.get("/items").status_code == 200
    token = _csrf(client.get("/home").data)
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/home").status_code == 302


def test_wrong_password_and_role_forbidden(app, client) -> None:  # type: ignore[no-untyped-def]
    _make_user(app, "pr", "proctor-pass", "researcher")
    assert _login(client, "pr", "wrong-pass").status_code == 401
    with app.app_context():
        session = services().sessions()
        from assessment.roster import generate_demo_city

        generate_demo_city(session, n_elementary=2, n_junior_high=1, grade5_target=60, grade8_target=40)
        create_user(session, "teacher", "proctor-pass", "proctor", school_source_id="es-001")
        session.commit()
        session.close()
    _login(client, "teacher", "proctor-pass")
    assert client.get("/items").status_code == 403


def test_login_is_rate_limited(app, client) -> None:  # type: ignore[no-untyped-def]
    app.extensions["ctcensus"].settings = app.extensions["ctcensus"].settings.with_(login_rate_per_minute=3)
    statuses = [_login(client, "someone", "bad-password").status_code for _ in range(5)]
    assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429]
    response = _login(client, "someone", "bad-password")
    assert int(response.headers["Retry-After"]) > 0


def test_production_refuses_dev_secret(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsafeConfigError):
        create_app({"CTCENSUS_ENV": "production", "SECRET_KEY": "ctcensus-dev-secret-not-for-production",
                    "INSTANCE_PATH": tmp_path, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_parallel_password_guesses_cannot_pass_the_limit(app) -> None:  # type: ignore[no-untyped-def]
    import threading

    app.extensions["ctcensus"].settings = app.extensions["ctcensus"].settings.with_(login_rate_per_minute=3)
    clients = [app.test_client() for _ in range(12)]
    tokens = [_csrf(c.get("/login").data) for c in clients]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def guess(i: int) -> None:
        barrier.wait()
        response = clients[i].post("/login", data={"username": "user", "password": "wrong-password",
                                                   "csrf_token": tokens[i]})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 3 + [429] * 9


def test_successful_staff_logins_give_the_ip_slot_back(app, client) -> None:  # type: ignore[no-untyped-def]
    _make_user(app)
    app.extensions["ctcensus"].settings = app.extensions["ctcensus"].settings.with_(login_rate_per_minute=3)
    for _ in range(5):
        assert _login(client).status_code == 302
        client.post("/logout", data={"csrf_token": _csrf(client.get("/login").data)})
    statuses = [_login(client, "someone", "bad-password").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def _app_without_key(app_config, instance) -> object:  # type: ignore[no-untyped-def]
    config = {k: v for k, v in app_config.items() if k != "SECRET_KEY"}
    config["INSTANCE_PATH"] = instance
    return create_app(config)


def test_development_app_never_signs_with_the_published_key(app_config, clean_db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 8 item 6: a cookie forged with the published development key is no login."""
    from flask.sessions import SecureCookieSessionInterface

    from assessment.config import DEV_SECRET_KEY

    application = _app_without_key(app_config, tmp_path)
    try:
        assert application.secret_key != DEV_SECRET_KEY
        assert application.secret_key == application.extensions["ctcensus"].settings.secret_key
        _make_user(application, "boss", "admin-password", "admin")
        forger = create_app({**app_config, "SECRET_KEY": DEV_SECRET_KEY, "INSTANCE_PATH": tmp_path / "other"})
        serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
        forged = serializer.dumps({"uid": 1, "sv": 0})
        client = application.test_client()
        client.set_cookie("session", forged)
        assert client.get("/items").status_code == 302
        forger.extensions["ctcensus"].engine.dispose()
    finally:
        application.extensions["ctcensus"].engine.dispose()


def test_cookies_and_student_tokens_use_one_secret_key(app_config, clean_db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SECRET_KEY in the instance's config.py signs both the cookies and the ticket tokens."""
    from assessment.tickets import issue_token, read_token

    (tmp_path / "config.py").write_text('SECRET_KEY = "from-instance-config-0123456789"\n')
    application = _app_without_key(app_config, tmp_path)
    try:
        settings = application.extensions["ctcensus"].settings
        assert application.secret_key == settings.secret_key == "from-instance-config-0123456789"
        assert read_token(application.secret_key, issue_token(settings.secret_key, 7, 1)).attempt_id == 7
    finally:
        application.extensions["ctcensus"].engine.dispose()


def _login_from(app, address: str, username: str, password: str) -> int:  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return _login(client, username, password).status_code


def test_a_password_guesser_locks_out_neither_the_user_elsewhere_nor_other_users(app) -> None:  # type: ignore[no-untyped-def]
    """Issue 8 item 4: 20 wrong passwords for one user from one address."""
    _make_user(app, "res", "research-pass")
    _make_user(app, "other", "other-password")
    app.extensions["ctcensus"].settings = app.extensions["ctcensus"].settings.with_(login_rate_per_minute=3)
    attacker = "198.51.100.66"
    statuses = [_login_from(app, attacker, "res", f"guess-{i}") for i in range(20)]
    assert statuses[:3] == [401] * 3 and set(statuses[3:]) == {429}
    assert _login_from(app, attacker, "res", "research-pass") == 429  # the guesser stays refused
    assert _login_from(app, "192.0.2.10", "res", "research-pass") == 302  # the user, from their own desk
    assert _login_from(app, attacker, "other", "other-password") == 302  # a colleague behind the same NAT


def test_a_distributed_guesser_meets_the_per_username_limit(app) -> None:  # type: ignore[no-untyped-def]
    """Failures from many addresses add up per username; addresses without failures still sign in."""
    _make_user(app)
    app.extensions["ctcensus"].settings = app.extensions["ctcensus"].settings.with_(login_rate_per_minute=2)
    # per (username, address) 2 failures; per username 5 x 2 = 10 failures across addresses
    statuses = [_login_from(app, f"203.0.113.{n}", "res", f"guess-{n}-{i}") for n in range(1, 7) for i in range(2)]
    assert statuses == [401] * 11 + [429]  # the 12th: a pair that failed, its username over 10 failures
    assert _login_from(app, "203.0.113.1", "res", "another-guess") == 429
    assert _login_from(app, "203.0.113.1", "res", "research-pass") == 429
    assert _login_from(app, "192.0.2.10", "res", "research-pass") == 302


def test_json_responses_keep_insertion_order(app, client) -> None:  # type: ignore[no-untyped-def]
    """Issue 12.3: JSON_SORT_KEYS does nothing since Flask 2.3; the JSON provider's sort_keys is what counts."""
    import json

    from webapp.views.api import OPENAPI_PATH

    assert app.json.sort_keys is False
    served = json.loads(client.get("/api/v1/openapi.json").get_data(as_text=True))
    written = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    assert list(served) == list(written)  # "openapi", "info", "paths", ... as written, not alphabetical
    assert list(served["paths"]) == list(written["paths"])
