"""Flask application factory: `gunicorn 'webapp:create_app()'`."""
from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from assessment.config import CONFIG_KEYS, Settings

from . import errors, extensions, i18n, inputs, security

__all__ = ["create_app"]

MAX_ID = 2**31 - 1  # the largest database id (PostgreSQL INTEGER); larger ids in a URL are 404


class IdConverter(IntegerConverter):
    """`<id:name>`: a database id, 0 … 2^31−1 (anything larger is no id: 404, never a 500)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=0, max=MAX_ID)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, overridden by `test_config`."""
    test_config = dict(test_config or {})
    overrides: dict[str, Any] = {}
    for key, (field, _variable) in CONFIG_KEYS.items():
        if key in test_config:
            value = test_config.pop(key)
            overrides[field] = Path(value) if field == "instance_path" else value
    settings = Settings.load(overrides)  # the one settings object: overrides, environment, instance config.py

    app = Flask(__name__, instance_path=str(settings.instance_path), instance_relative_config=True)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    # JSON keeps the order it was built in (the OpenAPI document, timer fields); since Flask 2.3 this is
    # the JSON provider's attribute, and the JSON_SORT_KEYS setting is ignored.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.converters["id"] = IdConverter
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(test_config)
    # One key signs both the session cookies and the students' ticket tokens (settings.secret_key).
    app.config["SECRET_KEY"] = settings.secret_key
    if settings.proxy_count:
        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    prefix = app.config.get("REDIS_PREFIX") or os.environ.get("CTCENSUS_REDIS_PREFIX", "ctc:")
    extensions.init_app(app, settings, redis_prefix=prefix)
    i18n.init_app(app)
    errors.init_app(app)
    inputs.init_app(app)
    app.jinja_env.globals.update(csrf_token=security.csrf_token, current_user=security.current_user)
    app.after_request(security.set_security_headers)

    from .views import (
        api,
        audit,
        auth,
        items,
        main,
        overview,
        player,
        proctor,
        research_analysis,
        research_design,
        research_params,
        research_runs,
        results,
    )

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(player.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(proctor.bp)
    app.register_blueprint(results.bp)
    app.register_blueprint(overview.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(research_design.bp)
    app.register_blueprint(research_analysis.bp)
    app.register_blueprint(items.bp)
    app.register_blueprint(research_runs.bp)
    app.register_blueprint(research_params.bp)
    return app
