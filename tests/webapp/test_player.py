"""The student player shell: both languages, no key data, nothing a strict CSP would block."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from webapp.i18n import LANGUAGES, catalogue
from webapp.views.player import PRACTICE_ITEM, SHELL_ASSETS

STATIC = Path(__file__).resolve().parents[2] / "webapp" / "static" / "player"
TRANSLATIONS = Path(__file__).resolve().parents[2] / "webapp" / "translations"


def _config(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="player-config">(.*?)</script>', page, re.S)
    assert match, "the shell carries its config as a JSON data block"
    return json.loads(match.group(1))


def test_shell_renders_in_zh_tw_by_default(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/take")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="zh-TW">' in page
    config = _config(page)
    assert config["lang"] == "zh-TW" and config["api"] == "/api/v1"
    assert config["messages"]["player.confirm_title"] == "是你嗎？"
    assert config["messages"]["player.state_saved"].endswith("已儲存")
    assert config["practice"]["stem"].startswith("機器人")


def test_shell_switches_to_english(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/take?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page
    config = _config(page)
    assert config["lang"] == "en" and config["otherLang"] == "zh-TW"
    assert config["messages"]["player.confirm_title"] == "Is this you?"
    assert config["practice"]["title"] == "Practice question"
    # the switch back offers Chinese, labelled in Chinese
    assert 'href="?lang=zh-TW" lang="zh-TW"' in page


def test_shell_carries_no_key_data(client) -> None:  # type: ignore[no-untyped-def]
    for lang in LANGUAGES:
        page = client.get(f"/take?lang={lang}").get_data(as_text=True)
        config = _config(page)
        practice = config["practice"]
        assert set(practice) == {"id", "type", "title", "stem", "options"}
        for word in ("key", "rationale", "answer", "accepted", "irt"):
            assert f'"{word}"' not in page, f"the shell must not carry {word!r}"
    assert "key" not in PRACTICE_ITEM and "rationale" not in PRACTICE_ITEM


def test_shell_is_csp_friendly(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/take")
    page = response.get_data(as_text=True)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert not re.search(r"\son[a-z]+\s*=", page), "no inline event handlers"
    assert "javascript:" not in page
    assert 'style="' not in page
    # the only inline <script> is a non-executed JSON data block
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S):
        assert 'type="application/json"' in attrs or ("src=" in attrs and not body.strip())
    assert "cdn" not in page.lower() and "http://" not in page and "https://" not in page


def test_static_player_code_never_evals() -> None:
    assert any(STATIC.glob("types/*.js")), "the item-type modules are checked too"
    for path in STATIC.rglob("*.js"):
        source = path.read_text(encoding="utf-8")
        for banned in ("eval(", "new Function", "document.write", "setTimeout('", 'setTimeout("', "outerHTML"):
            assert banned not in source, f"{path.name} uses {banned}"
        # innerHTML only for server-sanitized item text, parsed into an inert <template>
        for line in source.splitlines():
            if "innerHTML" in line and not line.strip().startswith("//"):
                assert "tpl.innerHTML" in line, f"{path.name}: innerHTML outside the item-text template: {line.strip()}"


def test_assets_exist_and_service_worker_is_served(client) -> None:  # type: ignore[no-untyped-def]
    for name in SHELL_ASSETS:
        assert (STATIC / name).is_file(), name
        with client.get(f"/static/player/{name}") as asset:
            assert asset.status_code == 200
    response = client.get("/take/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/take"
    body = response.get_data(as_text=True)
    assert '"/static/player/main.js"' in body and "CACHE_NAME" in body
    assert "/api/" not in body.split("self.addEventListener", 1)[0], "the API is never precached"


def test_player_catalogue_is_complete_and_zh_tw_first() -> None:
    with (TRANSLATIONS / "player.json").open(encoding="utf-8") as fh:
        raw = fh.read()
    data = json.loads(raw)
    assert data and all(key.startswith("player.") for key in data)
    for key, entry in data.items():
        assert list(entry)[:2] == ["zh-TW", "en"], f"{key}: zh-TW first, English second"
        assert entry["zh-TW"].strip() and entry["en"].strip()
    assert set(data) <= set(catalogue())
    used = set()
    for path in list(STATIC.glob("*.js")) + list((STATIC.parents[1] / "templates" / "player").glob("*.html")):
        used |= set(re.findall(r"player\.[a-z_]+", path.read_text(encoding="utf-8")))
    used = {key for key in used if not key.endswith(("_", ".css", ".js"))}
    directions = {f"player.dir_{d}_short" for d in ("up", "right", "down", "left")}
    missing = sorted(k for k in used | directions if k not in data and k not in ("player.take", "player.service_worker"))
    assert not missing, f"messages used but not in player.json: {missing}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_practice_item_in_every_language(client, lang: str) -> None:  # type: ignore[no-untyped-def]
    practice = _config(client.get(f"/take?lang={lang}").get_data(as_text=True))["practice"]
    assert practice["type"] == "single_choice" and len(practice["options"]) == 3
    assert all(option["text"] for option in practice["options"])


def test_every_item_type_has_its_player_module() -> None:
    """Issue 12.1: each registered item type has one module under player/types/, registered in items.js."""
    from item_bank import types as item_types

    registry = (STATIC / "items.js").read_text(encoding="utf-8")
    for name in item_types.names():
        module = STATIC / "types" / f"{name}.js"
        assert module.is_file(), f"no player module for item type {name}"
        assert f"type: '{name}'" in module.read_text(encoding="utf-8"), module.name
        assert f"from './types/{name}.js'" in registry, f"items.js does not register {name}"
