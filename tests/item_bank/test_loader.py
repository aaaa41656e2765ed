"""Loading item files and banks: YAML errors with lines, side images, all-or-nothing loads."""

from __future__ import annotations

import pytest

from item_bank import ItemBankError, content_dir, load_bank, load_item_file
from tests.item_bank.helpers import FIXTURES, ITEMS_DIR, bank_errors, write_yaml


def test_load_fixture_bank(fixture_items) -> None:
    assert len(fixture_items) == 7
    assert [i.id for i in fixture_items] == sorted(i.id for i in fixture_items)
    assert all(i.source and i.source.endswith(".yaml") for i in fixture_items)


def test_load_single_file_with_side_image() -> None:
    item = load_item_file(ITEMS_DIR / "d3" / "fx-robot-path.yaml")
    assert set(item.images) == {"map"}
    assert "script" not in item.images["map"] and "onload" not in item.images["map"]
    assert load_bank(ITEMS_DIR / "d3" / "fx-robot-path.yaml") == [item]


def test_yaml_syntax_error_reports_line(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: x-bad\nversion: 1\ntitle: {zh-TW: 少了括號\nstem: x\n", encoding="utf-8")
    (err,) = bank_errors(tmp_path)
    assert err.file == str(path) and err.item_id is None
    assert "YAML syntax error at line" in err.message
    assert str(err).startswith(f"{path}: item ?, field -: YAML syntax error at line 4")


def test_repeated_yaml_key_is_an_error(tmp_path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text(
        (ITEMS_DIR / "d1" / "fx-beaver-lunch.yaml").read_text(encoding="utf-8") + "key: C\n",
        encoding="utf-8",
    )
    (err,) = bank_errors(tmp_path)
    assert "repeated key 'key'" in err.message and "line" in err.message


def test_not_a_mapping(tmp_path) -> None:
    write_yaml(tmp_path, "list.yaml", [1, 2])
    (err,) = bank_errors(tmp_path)
    assert "one mapping" in err.message


def test_not_utf8(tmp_path) -> None:
    (tmp_path / "latin.yaml").write_bytes("id: caf\xe9\n".encode("latin-1"))
    (err,) = bank_errors(tmp_path)
    assert "not UTF-8" in err.message


def test_missing_path(tmp_path) -> None:
    with pytest.raises(ItemBankError, match="no such file"):
        load_bank(tmp_path / "nope")


def test_empty_directory_is_an_empty_bank(tmp_path) -> None:
    assert load_bank(tmp_path) == []


def test_side_image_conflicting_with_inline(raw_item, tmp_path) -> None:
    data = raw_item("fx-robot-path")
    data["images"] = {"map": "<svg xmlns='http://www.w3.org/2000/svg'/>"}
    write_yaml(tmp_path, "fx-robot-path.yaml", data)
    (tmp_path / "fx-robot-path.map.svg").write_text("<svg/>", encoding="utf-8")
    (err,) = bank_errors(tmp_path)
    assert (err.item_id, err.field) == ("fx-robot-path", "images.map")
    assert "both inline and as a file" in err.message


def test_broken_side_image(raw_item, tmp_path) -> None:
    data = raw_item("fx-robot-path")
    write_yaml(tmp_path, "fx-robot-path.yaml", data)
    (tmp_path / "fx-robot-path.map.svg").write_text("<svg><g></svg>", encoding="utf-8")
    (err,) = bank_errors(tmp_path)
    assert (err.item_id, err.field) == ("fx-robot-path", "images.map")


def test_hidden_directories_are_skipped(raw_item, tmp_path) -> None:
    (tmp_path / ".git").mkdir()
    write_yaml(tmp_path / ".git", "x.yaml", {"junk": 1})
    write_yaml(tmp_path, "ok.yaml", raw_item("fx-morning"))
    assert [i.id for i in load_bank(tmp_path)] == ["fx-morning"]


def test_error_message_is_one_error_per_line() -> None:
    with pytest.raises(ItemBankError) as info:
        load_bank(FIXTURES / "broken")
    lines = str(info.value).splitlines()
    assert len(lines) == len(info.value.errors) >= 5
    assert all(": item " in line and ", field " in line for line in lines)


def test_content_dir_points_into_the_package() -> None:
    assert content_dir().name == "content" and content_dir().parent.name == "item_bank"


_HEADER = "id: t-yaml\nversion: 1\ndimension: D3\ngrades: [5]\nstatus: draft\ntype: grid_path\ngrid: {map: [S.G]}\n"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("title: {zh-TW: " + "9" * 5000 + "}", "line 8, column 16: cannot read '999999999999... (5000 characters)' "
         "as an integer (too many digits); quote it if it is text"),
        ("title: {zh-TW: 2024-13-45}", "line 8, column 16: cannot read '2024-13-45' as a date (month must be in 1..12)"),
        ("title: " + "[" * 20000 + "]" * 20000, "YAML nested too deeply"),
    ],
    ids=["5000-digit integer", "impossible date", "deep nesting"],
)
def test_yaml_values_python_cannot_build_are_located_errors(tmp_path, line: str, expected: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(_HEADER + line + "\nstem: {zh-TW: s}\n", encoding="utf-8")
    (err,) = bank_errors(tmp_path)
    assert err.file == str(path) and expected in err.message
    assert "\n" not in str(err)


def test_control_character_is_located_by_line_and_column(tmp_path) -> None:
    path = tmp_path / "ctrl.yaml"
    path.write_text(_HEADER + "title: {zh-TW: 燈\x07籠}\nstem: {zh-TW: s}\n", encoding="utf-8")
    (err,) = bank_errors(tmp_path)
    assert err.file == str(path)
    assert err.message.startswith("YAML syntax error at line 8, column 17: character U+0007 is not allowed")
    assert "position" not in err.message


def test_upper_case_yaml_suffixes_are_loaded(raw_item, tmp_path) -> None:
    write_yaml(tmp_path, "FX-MORNING.YAML", raw_item("fx-morning"))
    (tmp_path / "sub").mkdir()
    write_yaml(tmp_path / "sub", "fx-tags.Yml", raw_item("fx-tags"))
    assert [i.id for i in load_bank(tmp_path)] == ["fx-morning", "fx-tags"]
    assert load_bank(tmp_path / "FX-MORNING.YAML")[0].id == "fx-morning"


def test_a_date_used_as_text_is_named_as_a_date(tmp_path) -> None:
    text = (ITEMS_DIR / "d1" / "fx-beaver-lunch.yaml").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("title:")]
    (tmp_path / "d.yaml").write_text("\n".join(lines) + "\ntitle: {zh-TW: 2024-01-01, en: 2024-01-02}\n",
                                     encoding="utf-8")
    errors = {e.field: e.message for e in bank_errors(tmp_path)}
    assert errors == {
        "title.zh-TW": "must be text, found a date 2024-01-01 (quote it if you meant text)",
        "title.en": "must be text, found a date 2024-01-02 (quote it if you meant text)",
    }
