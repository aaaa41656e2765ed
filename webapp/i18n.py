"""One message catalogue for the UI: zh-TW first, English second.

Messages live in `translations/*.json` (one file per area) as
{key: {"zh-TW": ..., "en": ...}}; a key may be defined once only, and a test
checks that every key has both languages.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from flask import Flask, Response, g, request

__all__ = ["LANGUAGES", "catalogue", "current_language", "gettext", "init_app"]

LANGUAGES = ("zh-TW", "en")
CATALOGUE_DIR = Path(__file__).resolve().parent / "translations"


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """The whole message catalogue, merged from every file (read once)."""
    data: dict[str, dict[str, str]] = {}
    for path in sorted(CATALOGUE_DIR.glob("*.json")):
        with path.open(encoding="utf-8") as fh:
            part: dict[str, dict[str, str]] = json.load(fh)
        clash = sorted(set(part) & set(data))
        if clash:
            raise ValueError(f"{path.name}: message keys defined in another catalogue file too: {', '.join(clash)}")
        data.update(part)
    return data


def current_language() -> str:
    """`?lang=` wins, then the `lang` cookie, then zh-TW."""
    if "lang" in g:
        return g.lang
    lang = request.args.get("lang") or request.cookies.get("lang") or "zh-TW"
    g.lang = lang if lang in LANGUAGES else "zh-TW"
    return g.lang


def gettext(key: str, **values: object) -> str:
    """The message for `key` in the current language (zh-TW as fallback), formatted."""
    entry = catalogue().get(key)
    if entry is None:
        return key
    text = entry.get(current_language()) or entry["zh-TW"]
    return text.format(**values) if values else text


def init_app(app: Flask) -> None:
    """Expose `_` and the language to templates; remember a chosen language in a cookie."""
    app.jinja_env.globals.update(_=gettext, current_language=current_language, LANGUAGES=LANGUAGES)

    @app.after_request
    def _remember_language(response: Response) -> Response:
        lang = request.args.get("lang")
        if lang in LANGUAGES:
            response.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="Lax")
        return response
