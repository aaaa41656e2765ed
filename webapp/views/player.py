"""The student test player: one HTML shell at /take, its Service Worker and the practice item.

Everything the student does after loading the shell goes through the JSON API
(/api/v1); the shell itself carries only UI text, the practice item (never
scored, never sent) and asset URLs, so it is safe to cache for offline reloads.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, render_template, url_for
from flask.typing import ResponseReturnValue

from ..i18n import LANGUAGES, catalogue, current_language

__all__ = ["PRACTICE_ITEM", "bp", "player_messages"]

bp = Blueprint("player", __name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "player"
# Bump when the Service Worker's caching logic changes (asset changes are picked up by network-first fetches).
SW_VERSION = "ctc-player-v1"

# A fixed warm-up item in both languages; it lives in the page, never in the item bank or the database.
PRACTICE_ITEM: dict[str, Any] = {
    "id": "practice",
    "type": "single_choice",
    "title": {"zh-TW": "練習題", "en": "Practice question"},
    "stem": {
        "zh-TW": "機器人先向右走 <b>2</b> 步，再向右走 <b>3</b> 步。它一共向右走了幾步？",
        "en": "The robot moves <b>2</b> steps right, then <b>3</b> more steps right. How many steps right did it move in all?",
    },
    "options": [
        {"id": "A", "text": {"zh-TW": "4 步", "en": "4 steps"}},
        {"id": "B", "text": {"zh-TW": "5 步", "en": "5 steps"}},
        {"id": "C", "text": {"zh-TW": "6 步", "en": "6 steps"}},
    ],
}

# Files the Service Worker precaches so that a reload without network still shows the player.
# Every module of the player: main.js and its parts (screens/, one module per item type in types/).
SHELL_ASSETS = (
    "player.css",
    *sorted(path.relative_to(STATIC_DIR).as_posix() for path in STATIC_DIR.rglob("*.js") if path.name != "sw.js"),
)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'; worker-src 'self'"
)


def player_messages(lang: str) -> dict[str, str]:
    """Every `player.*` message (and the shared type names) in `lang`, for the page's script."""
    out: dict[str, str] = {}
    for key, entry in catalogue().items():
        if key.startswith(("player.", "type.")) or key in ("app.name", "nav.language"):
            out[key] = entry.get(lang) or entry["zh-TW"]
    return out


def _practice(lang: str) -> dict[str, Any]:
    def pick(text: dict[str, str]) -> str:
        return text.get(lang) or text["zh-TW"]

    item = PRACTICE_ITEM
    return {
        "id": item["id"],
        "type": item["type"],
        "title": pick(item["title"]),
        "stem": pick(item["stem"]),
        "options": [{"id": o["id"], "text": pick(o["text"])} for o in item["options"]],
    }


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/take")
def take() -> ResponseReturnValue:
    """The player shell; the ticket, if given as ?ticket=, is read by the script and removed from the URL."""
    lang = current_language()
    other = next(code for code in LANGUAGES if code != lang)
    config = {
        "lang": lang,
        "otherLang": other,
        "api": "/api/v1",
        "takeUrl": url_for("player.take"),
        "serviceWorker": url_for("player.service_worker"),
        "messages": player_messages(lang),
        "practice": _practice(lang),
    }
    response = current_app.make_response(render_template("player/take.html", config=config, other_lang=other))
    response.headers["Cache-Control"] = "no-cache"
    return _secure(response)


@bp.get("/take/sw.js")
def service_worker() -> ResponseReturnValue:
    """The Service Worker that keeps the shell and its assets for reloads without network."""
    assets = [url_for("player.take")] + [url_for("static", filename=f"player/{name}") for name in SHELL_ASSETS]
    assets.append(url_for("static", filename="app.css"))
    head = (
        f"const CACHE_NAME = {json.dumps(SW_VERSION)};\n"
        f"const SHELL_URL = {json.dumps(url_for('player.take'))};\n"
        f"const PRECACHE = {json.dumps(assets)};\n"
    )
    body = head + (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    response = current_app.response_class(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = url_for("player.take")
    return _secure(response)
