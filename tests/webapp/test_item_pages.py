"""The item pages (issue 11.7): list filters and search, each item's page (previews in both languages, the key and
rationale for admins and researchers only), versions, parameters with SEs, statistics, the player's student view."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy.orm import Session

from assessment import item_store
from assessment.accounts import create_user
from assessment.item_pages import ItemQuery, find_items, item_detail
from item_bank.loader import content_dir, load_bank

ROLES = (("adm", "admin"), ("res", "researcher"), ("bur", "bureau"), ("boss", "school_admin"), ("teach", "teacher"),
         ("proc", "proctor"))
ITEM = "d1-lunch-table-question"  # single choice, key C, with a rationale in both languages


def _login(client: Any, username: str) -> None:
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    response = client.post("/login", data={"username": username, "password": f"{username}-password-1",
                                           "csrf_token": token})
    assert response.status_code == 302


@pytest.fixture
def bank(db: Session) -> None:
    """The starter bank (with its provisional parameter set) and one login per staff role."""
    from tests.assessment.factories import make_class

    item_store.import_items(db, list(load_bank(content_dir())), actor="test", source="starter bank")
    klass = make_class(db, school="es-t01")
    for name, role in ROLES:
        create_user(db, name, f"{name}-password-1", role,
                    school_source_id="es-t01" if role in ("school_admin", "teacher", "proctor") else None,
                    class_source_ids=[klass.source_id] if role == "teacher" else ())
    db.commit()


def test_the_list_filters_and_searches(db: Session, bank: None) -> None:
    everything = find_items(db, ItemQuery())
    assert len(everything) > 20
    anchors = find_items(db, ItemQuery(anchor=True))
    assert anchors and all(r.anchor for r in anchors)
    assert {r.item_id for r in find_items(db, ItemQuery(anchor=False))} == {r.item_id for r in everything} - {
        r.item_id for r in anchors}
    d3_grids = find_items(db, ItemQuery(dimension="D3", type="grid_path", grade=5))
    assert d3_grids and all(r.dimension == "D3" and r.type == "grid_path" and "5" in r.grades.split(",")
                            for r in d3_grids)
    assert [r.item_id for r in find_items(db, ItemQuery(q="LUNCH-TABLE"))] == [ITEM]
    assert [r.item_id for r in find_items(db, ItemQuery(q="營養午餐"))] == [ITEM]  # a title, zh-TW
    assert [r.item_id for r in find_items(db, ItemQuery(q="school lunch"))] == [ITEM]  # a title, English
    assert find_items(db, ItemQuery(q="no such item")) == []
    with pytest.raises(ValueError, match="type: expected one of single_choice"):
        ItemQuery.of({"type": "essay"})
    assert ItemQuery.of({"anchor": "yes", "q": " x ", "grade": "8"}).as_dict() == {"anchor": "yes", "q": "x",
                                                                                  "grade": "8"}


def test_who_may_see_items_and_who_sees_the_key(app: Any, client: Any, db: Session, bank: None) -> None:
    assert client.get(f"/items/{ITEM}").status_code == 302  # a student (no staff login): to the login page
    for name, role in ROLES:
        c = app.test_client()
        _login(c, name)
        for path in ("/items", f"/items/{ITEM}", f"/items/{ITEM}/student"):
            response = c.get(path)
            assert response.status_code == (200 if role in ("admin", "researcher", "bureau") else 403), (role, path)
            assert response.headers["Cache-Control"] == "no-store"
        if role not in ("admin", "researcher", "bureau"):
            continue
        page = c.get(f"/items/{ITEM}?lang=en").get_data(as_text=True)
        keyed = role in ("admin", "researcher")
        assert ("data-key" in page) == keyed, role
        assert ("The table records what is served" in page) == keyed, role  # the rationale
        assert ("表格只記錄「吃什麼」" in page) == keyed, role
        keys = re.findall(r"data-key>\s*<p><strong>[^<]*</strong></p>(.*?)\n", page)
        assert keys == (["<b>C.</b> 哪一天的主菜最受同學歡迎？", "<b>C.</b> Which day's main dish do students like the most?"]
                        if keyed else []), role
        if not keyed:
            assert "shown to researchers and admins only" in page
        student = c.get(f"/items/{ITEM}/student?lang=en").get_data(as_text=True)
        config = json.loads(re.search(r'id="player-config">(.*?)</script>', student, re.S).group(1))
        assert config["item"]["id"] == ITEM and config["item"]["stem"].startswith("<p>This is one week")
        assert not {"key", "rationale", "irt", "answer"} & set(config["item"])
        assert "The table records" not in student and "research/item_player.js" in student


def test_the_item_page_in_both_languages_with_versions_and_parameters(client: Any, db: Session, bank: None) -> None:
    _login(client, "res")
    page = client.get(f"/items/{ITEM}").get_data(as_text=True)
    assert "這是某所國小一星期的營養午餐菜單" in page and "This is one week" in page  # both previews on one page
    assert "學生看到的題目" in page and "各參數組的試題參數" in page and "版本" in page
    en = client.get(f"/items/{ITEM}?lang=en").get_data(as_text=True)
    assert "The item as students see it" in en and "Parameters in every parameter set" in en
    assert "provisional-2026" in en  # shipped with the item files: no SEs, said so
    assert "they were not estimated by a calibration" in en
    assert "Not computed yet: no scoring run has included this item." in en
    assert "Not computed yet: no calibration run has used this item." in en
    assert "starter bank" in en  # the version's source
    detail = item_detail(db, ITEM)
    assert [v.version for v in detail.versions] == [1] and detail.parameters[0].se_a is None
    assert detail.parameters[0].b[0] == pytest.approx(-detail.parameters[0].d[0] / detail.parameters[0].a)
    db.rollback()
    assert client.get("/items/no-such-item").status_code == 404
    assert client.get(f"/items/{ITEM}?version=9").status_code == 404
    assert client.get(f"/items/{ITEM}?version=abc").status_code == 400
    assert client.get(f"/items/{ITEM}?version=1").status_code == 200
    assert client.get("/items?type=essay").status_code == 400
    listing = client.get("/items?dimension=D1&q=lunch&lang=en").get_data(as_text=True)
    assert f'href="/items/{ITEM}"' in listing and listing.count('<a href="/items/d') == 1


def test_the_item_page_shows_the_city_percent_of_each_scoring_run(client: Any, census: None, db: Session) -> None:
    from sqlalchemy import select

    from assessment.models import ResultItemStat

    stat = db.scalar(select(ResultItemStat).where(ResultItemStat.level == "city", ResultItemStat.suppressed.is_(False)))
    assert stat is not None
    item_pk, pct = stat.item_pk, stat.pct
    from assessment.models import ItemRecord

    item_id = db.get(ItemRecord, item_pk).item_id  # type: ignore[union-attr]
    db.rollback()
    _login_census(client)
    page = client.get(f"/items/{item_id}?lang=en").get_data(as_text=True)
    assert "Scoring runs: the city&#39;s percent of maximum" in page
    assert f"{pct:.1f}" in page and "(current)" in page and "113" in page


def _login_census(client: Any) -> None:
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    client.post("/login", data={"username": "res", "password": "research-pass", "csrf_token": token})


def test_every_starter_item_has_a_key_to_show_in_both_languages(app: Any) -> None:
    from webapp.item_preview import item_key, item_rationale

    bank = list(load_bank(content_dir()))
    assert {i.type for i in bank} >= {"single_choice", "multiple_response", "ordering", "matching", "short_answer",
                                      "grid_path"}
    for lang in ("zh-TW", "en"):
        with app.test_request_context(f"/?lang={lang}"):
            for item in bank:
                key = str(item_key(item, lang))
                assert key.strip() and "<b>?.</b>" not in key, (item.id, key)
                if item.type == "grid_path":
                    assert re.search(r"<code>[URDL]+</code>", key), key
                if item.rationale is not None:
                    assert str(item_rationale(item, lang)).strip(), item.id
