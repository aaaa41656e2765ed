"""Every validation rule rejects the item with an error naming the file, the item id and the field."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from item_bank import (
    ItemBankError,
    build_item,
    load_bank,
    validate_item,
    verify_published,
)
from item_bank.validation import validate_bank
from tests.item_bank.helpers import FIXTURES, bank_errors, write_yaml

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = d
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = d
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        del target[int(last) if last.isdigit() else last]

    return mutate


# (fixture item, mutation, expected field, text expected in the message)
CASES: dict[str, tuple[str, Mutation, str, str]] = {
    # --- the rules listed in docs/item-format.md -------------------------------------------
    "unknown type": ("fx-beaver-lunch", _set("type", "essay"), "type", "unknown type 'essay'"),
    "unknown field": ("fx-beaver-lunch", _set("difficulty", 3), "difficulty", "unknown field"),
    "key not among options": (
        "fx-beaver-lunch",
        _set("key", "E"),
        "key",
        "'E' is not among the option ids A, B, C, D",
    ),
    "multiple key not among options": (
        "fx-tags",
        _set("key", ["A", "Z"]),
        "key",
        "'Z' is not among the option ids",
    ),
    "ordering key not a permutation (missing)": (
        "fx-morning",
        _set("key", ["UP", "BRUSH", "EAT"]),
        "key",
        "permutation of all option ids; missing GO",
    ),
    "ordering key not a permutation (repeated)": (
        "fx-morning",
        _set("key", ["UP", "BRUSH", "EAT", "GO", "GO"]),
        "key",
        "repeated GO",
    ),
    "ordering key with unknown id": (
        "fx-morning",
        _set("key", ["UP", "BRUSH", "EAT", "NAP"]),
        "key",
        "'NAP' is not among the option ids",
    ),
    "matching key unknown left": (
        "fx-match-signs",
        _set("key", [["L1", "R2"], ["L2", "R1"], ["L9", "R3"]]),
        "key[3]",
        "'L9' is not among the left ids L1, L2, L3",
    ),
    "matching key unknown right": (
        "fx-match-signs",
        _set("key", [["L1", "R2"], ["L2", "R7"], ["L3", "R3"]]),
        "key[2]",
        "'R7' is not among the right ids",
    ),
    "grid without S": (
        "fx-robot-path",
        _set("grid.map", ["...#.", ".#...", "...#G"]),
        "grid.map",
        "exactly one S and one G, found 0 S and 1 G",
    ),
    "grid with two G": (
        "fx-robot-path",
        _set("grid.map", ["S..#G", ".#...", "...#G"]),
        "grid.map",
        "found 1 S and 2 G",
    ),
    "grid goal unreachable": (
        "fx-robot-path",
        _set("grid.map", ["S..#.", ".#.##", "...#G"]),
        "grid.map",
        "cannot be reached",
    ),
    "missing zh-TW stem": ("fx-beaver-lunch", _delete("stem.zh-TW"), "stem.zh-TW", "missing zh-TW"),
    "empty zh-TW title": ("fx-beaver-lunch", _set("title.zh-TW", "  "), "title.zh-TW", "missing zh-TW"),
    "zh-TW only markup (sanitised to nothing)": (
        "fx-beaver-lunch",
        _set("stem.zh-TW", "<script>alert(1)</script>"),
        "stem.zh-TW",
        "missing zh-TW",
    ),
    "missing zh-TW option text": (
        "fx-beaver-lunch",
        _delete("options.2.text.zh-TW"),
        "options[C].text.zh-TW",
        "missing zh-TW",
    ),
    "max_score 2 without partial credit": (
        "fx-beaver-lunch",
        _set("max_score", 2),
        "max_score",
        "single_choice has no partial credit",
    ),
    "anchor without both grades": (
        "fx-morning",
        _set("grades", [5]),
        "anchor",
        "anchor item must have grades [5, 8]",
    ),
    "irt gpcm on a dichotomous item": (
        "fx-beaver-lunch",
        _set("irt", {"model": "gpcm", "a": 1.0, "d": [0.1], "parameter_set": "p"}),
        "irt.model",
        "gpcm is for partial-credit items",
    ),
    "irt 2pl on a partial-credit item": (
        "fx-morning",
        _set("irt.model", "2pl"),
        "irt.model",
        "max_score is 2, so the model must be gpcm",
    ),
    "irt gpcm with too few intercepts": (
        "fx-morning",
        _set("irt.d", [0.3]),
        "irt.d",
        "needs 2 intercept(s), found 1",
    ),
    # --- further rules --------------------------------------------------------------------
    "bad id": ("fx-beaver-lunch", _set("id", "Beaver Lunch"), "id", "lowercase a-z"),
    "missing id": ("fx-beaver-lunch", _delete("id"), "id", "missing (required)"),
    "missing type": ("fx-beaver-lunch", _delete("type"), "type", "missing (required)"),
    "version zero": ("fx-beaver-lunch", _set("version", 0), "version", "positive integer"),
    "version text": ("fx-beaver-lunch", _set("version", "1"), "version", "positive integer"),
    "unknown dimension": ("fx-beaver-lunch", _set("dimension", "D5"), "dimension", "D1, D2, D3, D4"),
    "missing dimension": ("fx-beaver-lunch", _delete("dimension"), "dimension", "missing"),
    "bad grades": ("fx-beaver-lunch", _set("grades", [6]), "grades", "[5], [8] or [5, 8]"),
    "grades not a list": ("fx-beaver-lunch", _set("grades", 5), "grades", "[5], [8] or [5, 8]"),
    "bad status": ("fx-beaver-lunch", _set("status", "published"), "status", "draft, pilot"),
    "anchor not boolean": ("fx-morning", _set("anchor", "yes"), "anchor", "true or false"),
    "max_score 3": ("fx-morning", _set("max_score", 3), "max_score", "must be 1 or 2"),
    "missing English on operational": (
        "fx-beaver-lunch",
        _delete("stem.en"),
        "stem.en",
        "required for operational",
    ),
    "missing English option on operational": (
        "fx-beaver-lunch",
        _delete("options.0.text.en"),
        "options[A].text.en",
        "required for operational",
    ),
    "unknown language": ("fx-beaver-lunch", _set("stem.ja", "x"), "stem.ja", "unknown language"),
    "text not an object": ("fx-beaver-lunch", _set("stem", "plain"), "stem", "must be an object"),
    "missing rationale on operational": (
        "fx-beaver-lunch",
        _delete("rationale"),
        "rationale",
        "operational items need a rationale",
    ),
    "field of another type": ("fx-beaver-lunch", _set("grid", {"map": ["SG"]}), "grid", "not used by type"),
    "repeated option ids": (
        "fx-beaver-lunch",
        _set("options.1.id", "A"),
        "options",
        "unique; repeated: A",
    ),
    "one option": (
        "fx-beaver-lunch",
        lambda d: (d.__setitem__("options", d["options"][1:2])),
        "options",
        "at least 2 options",
    ),
    "two ordering options": (
        "fx-morning",
        lambda d: (d.__setitem__("options", d["options"][:2]), d.__setitem__("key", ["UP", "EAT"])),
        "options",
        "at least 3 options",
    ),
    "bad option id": ("fx-beaver-lunch", _set("options.0.id", "1"), "options[1].id", "letter followed"),
    "option unknown field": ("fx-beaver-lunch", _set("options.0.img", "x"), "options[1].img", "unknown"),
    "ordering displayed in key order": (
        "fx-morning",
        _set("key", ["EAT", "UP", "GO", "BRUSH"]),
        "options",
        "listed in the key order",
    ),
    "ordering displayed one adjacent swap from the key": (
        "fx-morning",
        _set("key", ["UP", "EAT", "GO", "BRUSH"]),
        "options",
        "one swap away from the key",
    ),
    "ordering displayed one distant swap from the key": (
        "fx-morning",
        _set("key", ["BRUSH", "UP", "GO", "EAT"]),
        "options",
        "one swap away from the key",
    ),
    "matching keyed straight across": (
        "fx-match-signs",
        _set("key", [["L1", "R1"], ["L2", "R2"], ["L3", "R4"]]),
        "right",
        "2 of the 3 left items are keyed to the right item in the same position",
    ),
    "matching keyed straight across by id": (
        "fx-match-signs",
        lambda d: (d.__setitem__("right", [d["right"][1], d["right"][0], *d["right"][2:]]),
                   d.__setitem__("key", [["L1", "R1"], ["L2", "R2"], ["L3", "R4"]])),
        "key",
        "2 of the 3 left items are keyed to the right item with the same number",
    ),
    "single key not a string": ("fx-beaver-lunch", _set("key", ["B"]), "key", "one option id"),
    "multiple key empty": ("fx-tags", _set("key", []), "key", "at least one"),
    "matching left id matched twice": (
        "fx-match-signs",
        _set("key", [["L1", "R2"], ["L1", "R1"], ["L3", "R3"]]),
        "key[2]",
        "matched twice",
    ),
    "matching key misses a left id": (
        "fx-match-signs",
        _set("key", [["L1", "R2"], ["L2", "R1"]]),
        "key",
        "missing L3",
    ),
    "matching left and right share ids": (
        "fx-match-signs",
        _set("right.0.id", "L1"),
        "right",
        "left and right ids must differ",
    ),
    "grid not rectangular": (
        "fx-robot-path",
        _set("grid.map", ["S..#.", ".#..", "...#G"]),
        "grid.map",
        "not rectangular",
    ),
    "grid unknown cell": (
        "fx-robot-path",
        _set("grid.map", ["S..X.", ".#...", "...#G"]),
        "grid.map",
        "unknown cell 'X'",
    ),
    "grid max_moves below shortest path": (
        "fx-robot-path",
        _set("grid.max_moves", 5),
        "grid.max_moves",
        "less than the shortest path (6 moves)",
    ),
    "grid unknown field": ("fx-robot-path", _set("grid.start", [0, 0]), "grid.start", "unknown field"),
    "numeric answer not a number": (
        "fx-count-loop",
        _set("answer.value", "forty-two"),
        "answer.value",
        "must be a number",
    ),
    "negative tolerance": ("fx-count-loop", _set("answer.tolerance", -1), "answer.tolerance", ">= 0"),
    # --- malformed values that used to end in a traceback ------------------------------------
    "answer kind a list": ("fx-count-loop", _set("answer.kind", ["numeric"]), "answer.kind", "found a list"),
    "numeric answer a 400-digit integer": (
        "fx-count-loop", _set("answer.value", 10**400), "answer.value", "must be a number, found int 100000000000... (401 digits)",
    ),
    "irt slope a 400-digit integer": ("fx-beaver-lunch", _set("irt.a", -(10**400)), "irt.a", "finite number"),
    "version beyond 32 bits": (
        "fx-beaver-lunch", _set("version", 2**63), "version", "positive integer (at most 2147483647), found int 9223372036854775808",
    ),
    "lone surrogate in text": ("fx-beaver-lunch", _set("stem.zh-TW", "x\ud800"), "stem.zh-TW", "'\\ud800', half of a UTF-16"),
    "lone surrogate in an option": (
        "fx-beaver-lunch", _set("options.1.text.en", "\udfff"), "options[2].text.en", "surrogate pair",
    ),
    "date as text": (
        "fx-beaver-lunch", _set("title.zh-TW", datetime.date(2024, 1, 1)), "title.zh-TW",
        "must be text, found a date 2024-01-01",
    ),
    "answer kind unknown": ("fx-count-loop", _set("answer.kind", "essay"), "answer.kind", "numeric or text"),
    "numeric answer with accepted": (
        "fx-count-loop",
        _set("answer.accepted", ["42"]),
        "answer.accepted",
        "unknown field for a numeric answer",
    ),
    "text answers repeat": (
        "fx-animal-word",
        _set("answer.accepted", ["cat", " CAT "]),
        "answer.accepted",
        "repeat after normalisation",
    ),
    "text answers empty": ("fx-animal-word", _set("answer.accepted", []), "answer.accepted", "non-empty"),
    "irt unknown field": ("fx-beaver-lunch", _set("irt.b", 0.2), "irt.b", "unknown field"),
    "irt c on 2pl": ("fx-beaver-lunch", _set("irt.c", 0.2), "irt.c", "only used by 3pl"),
    "irt 3pl without c": ("fx-tags", _delete("irt.c"), "irt.c", "guessing parameter"),
    "irt without parameter set": ("fx-beaver-lunch", _delete("irt.parameter_set"), "irt.parameter_set", "name"),
    "irt slope not a number": ("fx-beaver-lunch", _set("irt.a", "high"), "irt.a", "finite number"),
    "placeholder to a missing image": (
        "fx-beaver-lunch",
        _set("stem.zh-TW", "看圖 {{img:chart}}"),
        "stem",
        "refers to image 'chart'",
    ),
    "image not SVG": (
        "fx-beaver-lunch",
        _set("images", {"pic": "<html><body/></html>"}),
        "images.pic",
        "not an SVG document",
    ),
    "image not well-formed": (
        "fx-beaver-lunch",
        _set("images", {"pic": "<svg"}),
        "images.pic",
        "not well-formed",
    ),
    "image with a DTD": (
        "fx-beaver-lunch",
        _set(
            "images",
            {"pic": '<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;</svg>'},
        ),
        "images.pic",
        "refused",
    ),
    "bad image name": ("fx-beaver-lunch", _set("images", {"my pic": "<svg/>"}), "images.my pic", "letters"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_names_file_item_and_field(case: str, raw_item, tmp_path) -> None:
    item_id, mutate, field, message = CASES[case]
    data = raw_item(item_id)
    mutate(data)
    path = write_yaml(tmp_path, f"{item_id}.yaml", data)
    errors = bank_errors(tmp_path)
    matching = [e for e in errors if e.field == field and message in e.message]
    assert matching, f"no error on field {field!r} with {message!r}; got:\n" + "\n".join(map(str, errors))
    err = matching[0]
    assert err.file == str(path)
    expected_id = data.get("id") if isinstance(data.get("id"), str) else None
    assert err.item_id == expected_id
    text = str(err)
    assert text.startswith(f"{path}: item {expected_id or '?'}, field {field}: ")
    assert message in text


def test_spec_example_message(raw_item, tmp_path) -> None:
    data = raw_item("fx-beaver-lunch")
    data["key"] = "E"
    path = write_yaml(tmp_path, "robot.yaml", data)
    (err,) = bank_errors(path.parent)
    assert str(err) == (
        f"{path}: item fx-beaver-lunch, field key: 'E' is not among the option ids A, B, C, D"
    )


def test_duplicate_id_and_version_across_files(raw_item, tmp_path) -> None:
    data = raw_item("fx-beaver-lunch")
    write_yaml(tmp_path, "a.yaml", data)
    second = write_yaml(tmp_path, "b.yaml", data)
    (err,) = bank_errors(tmp_path)
    assert (err.file, err.item_id, err.field) == (str(second), "fx-beaver-lunch", "id")
    assert "duplicate id and version" in err.message and "a.yaml" in err.message


def test_same_id_new_version_is_fine(raw_item, tmp_path) -> None:
    data = raw_item("fx-beaver-lunch")
    write_yaml(tmp_path, "v1.yaml", data)
    data["version"] = 2
    data["key"] = "C"
    write_yaml(tmp_path, "v2.yaml", data)
    items = load_bank(tmp_path)
    assert [(i.id, i.version, i.key) for i in items] == [
        ("fx-beaver-lunch", 1, "B"),
        ("fx-beaver-lunch", 2, "C"),
    ]


def test_all_errors_are_collected_and_nothing_is_half_loaded(raw_item, tmp_path) -> None:
    good = raw_item("fx-morning")
    write_yaml(tmp_path, "good.yaml", good)
    bad = raw_item("fx-beaver-lunch")
    bad["key"] = "E"
    bad["dimension"] = "D9"
    bad_path = write_yaml(tmp_path, "bad.yaml", bad)
    other = raw_item("fx-robot-path")
    other["grid"]["map"] = ["S#", "#G"]
    other["stem"] = {"zh-TW": "走到 G。", "en": "Go to G."}
    write_yaml(tmp_path, "other.yaml", other)
    with pytest.raises(ItemBankError) as info:
        load_bank(tmp_path)
    fields = {(e.item_id, e.field) for e in info.value.errors}
    assert fields == {
        ("fx-beaver-lunch", "key"),
        ("fx-beaver-lunch", "dimension"),
        ("fx-robot-path", "grid.map"),
    }
    lines = str(info.value).splitlines()
    assert len(lines) == 3 and all(line.startswith(str(tmp_path)) for line in lines)
    assert any(line.startswith(f"{bad_path}: item fx-beaver-lunch, field key:") for line in lines)


def test_broken_fixture_files() -> None:
    errors = {(e.item_id, e.field) for e in _errors(FIXTURES / "broken")}
    assert ("broken-unknown-type", "type") in errors
    assert ("broken-key", "key") in errors
    assert ("broken-grid", "grid.map") in errors
    assert ("broken-no-zh", "stem.zh-TW") in errors
    assert (None, None) in errors  # the YAML syntax error


def _errors(path):
    with pytest.raises(ItemBankError) as info:
        load_bank(path)
    return info.value.errors


def test_validate_item_rechecks_hand_built_items(by_id) -> None:
    import dataclasses

    item = by_id["fx-beaver-lunch"]
    assert validate_item(item) == []
    broken = dataclasses.replace(item, key="Z")
    (err,) = validate_item(broken)
    assert (err.item_id, err.field) == ("fx-beaver-lunch", "key")


def test_validate_bank_reports_duplicates(fixture_items) -> None:
    assert validate_bank(fixture_items) == []
    errors = validate_bank([*fixture_items, fixture_items[0]])
    assert len(errors) == 1 and errors[0].field == "id"


def test_build_item_from_dict_raises_with_all_errors(raw_item) -> None:
    data = raw_item("fx-beaver-lunch")
    data["key"] = "Q"
    data["status"] = "live"
    with pytest.raises(ItemBankError) as info:
        build_item(data, file="db:42")
    assert {e.field for e in info.value.errors} == {"key", "status"}
    assert all(e.file == "db:42" for e in info.value.errors)


def test_published_version_is_immutable(by_id) -> None:
    import dataclasses

    item = by_id["fx-beaver-lunch"]
    published = {(item.id, item.version): item.content_hash()}
    verify_published([item], published)
    # status and IRT parameters are metadata: they may change without a new version
    verify_published([dataclasses.replace(item, status="retired", irt=None)], published)
    edited = dataclasses.replace(item, key="C")
    with pytest.raises(ItemBankError) as info:
        verify_published([edited], published)
    (err,) = info.value.errors
    assert (err.item_id, err.field) == ("fx-beaver-lunch", "version")
    assert "immutable" in err.message


def test_malformed_image_placeholder(raw_item, tmp_path) -> None:
    data = raw_item("fx-beaver-lunch")
    data["images"] = {"map": "<svg xmlns='http://www.w3.org/2000/svg'/>"}
    data["stem"]["en"] = "See {{ img:map }} and {{img:map}}"
    write_yaml(tmp_path, "p.yaml", data)
    (err,) = bank_errors(tmp_path)
    assert (err.item_id, err.field) == ("fx-beaver-lunch", "stem")
    assert "malformed image placeholder '{{ img:map }}'" in err.message


def test_a_large_number_written_as_text_is_text(raw_item) -> None:
    data = raw_item("fx-beaver-lunch")
    data["stem"]["zh-TW"] = 9 * (10**400 - 1) // 9
    assert build_item(data).stem.zh_tw == "9" * 400


def test_version_limits(raw_item) -> None:
    data = raw_item("fx-beaver-lunch")
    data["version"] = 2**31 - 1
    assert build_item(data).version == 2**31 - 1
    data["version"] = 2**31
    with pytest.raises(ItemBankError, match="field version: must be a positive integer \\(at most 2147483647\\)"):
        build_item(data)


def test_retired_versions_may_keep_a_leaky_presentation(raw_item) -> None:
    """A retired version never goes on a new form; its published content stays readable (and scorable)."""
    data = raw_item("fx-match-signs")
    data["key"] = [["L1", "R1"], ["L2", "R2"], ["L3", "R3"]]
    with pytest.raises(ItemBankError, match="same position"):
        build_item(data)
    data["status"] = "retired"
    assert build_item(data).key_pairs == (("L1", "R1"), ("L2", "R2"), ("L3", "R3"))


def test_stored_versions_are_read_without_the_presentation_rule(raw_item) -> None:
    """Content stored before the rule existed (a frozen form's item) must stay deliverable."""
    data = raw_item("fx-match-signs")
    data["key"] = [["L1", "R1"], ["L2", "R2"], ["L3", "R3"]]
    item = build_item(data, check_presentation=False)
    assert item.key_pairs[0] == ("L1", "R1")
