"""Item model: canonical dicts, content hashes, student views that never leak the key."""

from __future__ import annotations

import dataclasses
import json

import pytest

from item_bank import ITEM_TYPES, Item, filter_items
from item_bank.model import Text


def test_fixtures_cover_every_type(fixture_items) -> None:
    assert {i.type for i in fixture_items} == set(ITEM_TYPES)


def test_dict_round_trip_is_lossless(fixture_items) -> None:
    for item in fixture_items:
        data = item.to_dict()
        json.dumps(data)  # JSON-able, for database storage
        again = Item.from_dict(json.loads(json.dumps(data)))
        assert again == item
        assert again.images == item.images
        assert again.to_dict() == data
        assert again.content_hash() == item.content_hash()


def test_items_are_immutable(by_id) -> None:
    item = by_id["fx-beaver-lunch"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.key = "A"  # type: ignore[misc]
    with pytest.raises(TypeError):
        item.images["x"] = "<svg/>"  # type: ignore[index]
    hash(item)


def test_canonical_forms(by_id) -> None:
    assert by_id["fx-tags"].key == ("A", "C")  # key written [C, A]: display order
    assert by_id["fx-count-loop"].answer.value == 42
    assert by_id["fx-robot-path"].grid.shortest_path_length == 6
    assert by_id["fx-robot-path"].grid.max_moves == 20
    assert by_id["fx-animal-word"].grid is None


def test_content_hash_tracks_content_not_metadata(by_id) -> None:
    item = by_id["fx-morning"]
    h = item.content_hash()
    assert len(h) == 64 and h == item.content_hash()
    for change in (
        {"status": "retired"},
        {"irt": None},
        {"rationale": None},
        {"dimension": "D1"},
        {"source": "elsewhere.yaml"},
    ):
        assert dataclasses.replace(item, **change).content_hash() == h, change
    for change in (
        {"key": ("UP", "EAT", "BRUSH", "GO")},
        {"max_score": 1},
        {"stem": Text("新題幹", "new stem")},
        {"version": 2},
    ):
        assert dataclasses.replace(item, **change).content_hash() != h, change


def test_default_max_moves_is_rows_times_cols(raw_item) -> None:
    data = raw_item("fx-robot-path")
    del data["grid"]["max_moves"]
    data["stem"] = {"zh-TW": "走", "en": "go"}
    assert Item.from_dict(data).grid.max_moves == 15


SECRET_KEYS = {"key", "answer", "accepted", "rationale", "irt", "value", "tolerance", "shortest_path_length"}


def _walk_keys(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _walk_keys(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk_keys(v)


@pytest.mark.parametrize("lang", ["zh-TW", "en"])
@pytest.mark.parametrize("seed", [None, 7, "student-123"])
def test_student_view_never_contains_key_data(fixture_items, lang, seed) -> None:
    for item in fixture_items:
        view = item.student_view(lang, seed=seed)
        assert not SECRET_KEYS & set(_walk_keys(view)), item.id
        blob = json.dumps(view, ensure_ascii=False)
        if item.rationale is not None:
            for text in (item.rationale.zh_tw, item.rationale.en):
                if text:
                    assert text not in blob
        assert "irt" not in blob and "parameter_set" not in blob and "provisional" not in blob
        assert set(view) <= {
            "id", "version", "type", "lang", "title", "stem", "options", "left", "right",
            "answer_kind", "grid", "images",
        }


def test_student_view_hides_answers_per_type(by_id) -> None:
    view = by_id["fx-count-loop"].student_view("en")
    assert "42" not in json.dumps(view) and view["answer_kind"] == "numeric"
    view = by_id["fx-animal-word"].student_view("zh-TW")
    blob = json.dumps(view, ensure_ascii=False)
    assert "Kitty" not in blob and "cat" not in blob and view["answer_kind"] == "text"
    grid = by_id["fx-robot-path"]
    view = grid.student_view("en")
    assert view["grid"] == {"map": ["S..#.", ".#...", "...#G"], "max_moves": 20}
    assert grid.grid.shortest_path() not in json.dumps(view)
    match = by_id["fx-match-signs"].student_view("en")
    assert [o["id"] for o in match["left"]] == ["L1", "L2", "L3"]
    assert [o["id"] for o in match["right"]] == ["R1", "R2", "R3", "R4"]


def test_ordering_is_never_shown_in_key_order(by_id) -> None:
    item = by_id["fx-morning"]
    assert [o["id"] for o in item.student_view()["options"]] == ["EAT", "UP", "GO", "BRUSH"]
    for seed in range(300):
        order = tuple(o["id"] for o in item.student_view(seed=seed)["options"])
        assert order != item.key and sorted(order) == sorted(item.key)


def test_shuffle_is_deterministic_per_seed(by_id) -> None:
    item = by_id["fx-beaver-lunch"]
    a = item.display_order(seed=5)
    assert a == item.display_order(seed=5)
    orders = {item.display_order(seed=s)["options"] for s in range(50)}
    assert len(orders) > 5


def test_language_fallback(by_id) -> None:
    draft = by_id["fx-animal-word"]  # a draft with zh-TW only
    assert draft.student_view("en")["stem"] == draft.stem.zh_tw
    lunch = by_id["fx-beaver-lunch"]
    assert lunch.student_view("en")["title"] == "Beaver's lunch box"
    assert lunch.student_view("zh-TW")["title"] == "河狸的便當"
    assert lunch.student_view("zh-tw")["title"] == "河狸的便當"
    with pytest.raises(ValueError, match="lang must be one of"):
        lunch.student_view("fr")


def test_text_is_sanitised_on_load(raw_item) -> None:
    data = raw_item("fx-beaver-lunch")
    data["stem"]["zh-TW"] = '<p onclick="x()">選<script>alert(1)</script><a href="http://x">一</a>個</p>'
    item = Item.from_dict(data)
    assert item.stem.zh_tw == "<p>選一個</p>"


def test_filter_items(fixture_items) -> None:
    def ids(items):  # type: ignore[no-untyped-def]
        return sorted(i.id for i in items)
    assert ids(filter_items(fixture_items, grade=8, dimension="D3")) == [
        "fx-count-loop", "fx-morning", "fx-robot-path",
    ]
    assert ids(filter_items(fixture_items, status="draft")) == ["fx-animal-word"]
    assert ids(filter_items(fixture_items, grade=5, dimension="d2")) == ["fx-animal-word"]
    assert len(filter_items(fixture_items)) == len(fixture_items)
    with pytest.raises(ValueError, match="grade"):
        filter_items(fixture_items, grade=6)
    with pytest.raises(ValueError, match="status"):
        filter_items(fixture_items, status="live")


def test_student_view_sends_only_the_images_its_texts_show() -> None:
    from item_bank.validation import build_item

    def svg(text: str) -> str:
        return f"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'><text x='0' y='9'>{text}</text></svg>"

    item = build_item({
        "id": "d1-demo-solution", "version": 1, "type": "single_choice", "dimension": "D1", "grades": [5],
        "anchor": False, "status": "operational",
        "title": {"zh-TW": "題", "en": "Q"}, "stem": {"zh-TW": "選一個 {{img:map}}", "en": "Pick one {{img:map}}"},
        "rationale": {"zh-TW": "看圖 {{img:solution}}", "en": "See {{img:solution}}"},
        "max_score": 1,
        "options": [{"id": "A", "text": {"zh-TW": "甲 {{img:robot}}", "en": "a {{img:robot}}"}},
                    {"id": "B", "text": {"zh-TW": "乙", "en": "b"}}],
        "key": "B", "images": {"solution": svg("ANSWER IS B"), "map": svg("MAP"), "robot": svg("ROBOT")},
    })
    for lang in ("zh-TW", "en"):
        view = item.student_view(lang, seed=7)
        assert sorted(view["images"]) == ["map", "robot"]
        assert "ANSWER IS B" not in json.dumps(view)
    assert sorted(item.images) == ["map", "robot", "solution"]  # the bank keeps it for the rationale
