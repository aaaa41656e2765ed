"""Issue 12.1: one home per item type. A seventh type defined here, and only here, validates, is
delivered, scores and survives a QTI round trip once registered; the six built-in types are the
registry's, which is the one list of type names."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any
from xml.etree.ElementTree import Element, SubElement

import pytest

import item_bank
from item_bank import (
    Item,
    ItemBankError,
    ResponseError,
    build_item,
    export_qti3,
    import_qti,
    score_response,
    validate_response,
)
from item_bank import types as item_types
from item_bank.fields import Collector, id_list, not_among, parse_options
from item_bank.qti.xml import TEMPLATES, QtiInteraction, QtiReadError, qti_tag
from item_bank.synthesis import response_for_score
from item_bank.types.base import ItemType, add_choices, declare_identifiers, refuse_unknown_ids, response_ids


class BlockProgram(ItemType):
    """A toy block-programming task: snap blocks from a palette into a program (blocks may repeat)."""

    name = "block_program"
    fields = ("blocks", "program")
    response_field = "program"
    qti_interactions = ("qti-custom-interaction",)

    def parse(self, col: Collector, data: Mapping[str, Any], need_en: bool) -> dict[str, Any]:
        blocks = parse_options(col, data.get("blocks"), "blocks", need_en, 2)
        program = id_list(col, data.get("program"), "program")
        if blocks is None or program is None:
            return {}
        ids = tuple(b.id for b in blocks)
        unknown = [p for p in program if p not in ids]
        not_among(col, "program", unknown, ids, "block")
        if not program:
            col.add("program", "must hold at least one block")
        return {"extra": {"blocks": blocks, "program": tuple(program)}}

    def to_dict(self, item: Item) -> dict[str, Any]:
        return {"blocks": [b.to_dict() for b in item.extra["blocks"]], "program": list(item.extra["program"])}

    def student_fields(self, item: Item, lang: str) -> dict[str, Any]:
        return {"blocks": [{"id": b.id, "text": b.text.get(lang)} for b in item.extra["blocks"]]}

    def normalize(self, item: Item, value: Any) -> Any:
        ids = response_ids(item, self.response_field, value)
        refuse_unknown_ids(item, self.response_field, ids, tuple(b.id for b in item.extra["blocks"]))
        return ids

    def score(self, item: Item, value: Any) -> int:
        return 1 if tuple(value) == item.extra["program"] else 0

    def sample_responses(self, item: Item, score: int, rng: random.Random) -> list[dict[str, Any]]:
        program = list(item.extra["program"])
        return [{"program": program if score else program[:-1] or program * 2}]

    def qti_declare(self, item: Item, decl: Element) -> None:
        declare_identifiers(decl, "ordered", item.extra["program"])

    def qti_interaction(self, item: Item, body: Element, image_src: Mapping[str, str]) -> None:
        inter = SubElement(body, qti_tag("qti-custom-interaction"),
                           {"response-identifier": "RESPONSE", "class": "ctc-block-program"})
        add_choices(inter, item.extra["blocks"], image_src)

    def qti_processing(self, item: Item, root: Element) -> None:
        SubElement(root, qti_tag("qti-response-processing"), {"template": TEMPLATES + "match_correct.xml"})

    def qti_read(self, source: QtiInteraction) -> dict[str, Any] | None:
        if "ctc-block-program" not in (source.interaction.get("class") or "").split():
            return None
        if not source.correct:
            raise QtiReadError("program", "a block program needs its correct program")
        return {"blocks": source.options(source.interaction, "qti-simple-choice", "blocks"),
                "program": source.correct}


BLOCKS_ITEM: dict[str, Any] = {
    "id": "d3-robot-blocks",
    "version": 1,
    "type": "block_program",
    "dimension": "D3",
    "grades": [5, 8],
    "status": "operational",
    "title": {"zh-TW": "積木程式", "en": "Block program"},
    "stem": {"zh-TW": "讓機器人走到旗子。", "en": "Get the robot to the flag."},
    "rationale": {"zh-TW": "前進兩步再右轉。", "en": "Two steps, then turn right."},
    "blocks": [
        {"id": "fwd", "text": {"zh-TW": "前進", "en": "forward"}},
        {"id": "right", "text": {"zh-TW": "右轉", "en": "turn right"}},
        {"id": "left", "text": {"zh-TW": "左轉", "en": "turn left"}},
    ],
    "program": ["fwd", "fwd", "right"],
}


@pytest.fixture
def block_type() -> Iterator[ItemType]:
    kind = item_types.register(BlockProgram())
    try:
        yield kind
    finally:
        item_types.unregister(kind.name)


def test_a_seventh_type_needs_only_its_module_and_the_registry(block_type, tmp_path) -> None:
    item = build_item(BLOCKS_ITEM)
    assert item.item_type is block_type
    assert item.to_dict()["program"] == ["fwd", "fwd", "right"]
    assert build_item(item.to_dict()) == item  # the file form reads back equal

    view = item.student_view("en", seed=3)
    assert view["type"] == "block_program"
    assert [b["text"] for b in view["blocks"]] == ["forward", "turn right", "turn left"]
    assert "program" not in view and "rationale" not in view  # never the key

    assert validate_response(item, {"program": ["fwd", "fwd", "right"]}) == {"program": ["fwd", "fwd", "right"]}
    assert score_response(item, {"program": ["fwd", "fwd", "right"]}) == 1
    assert score_response(item, {"program": ["fwd", "right"]}) == 0
    assert score_response(item, {"program": []}) == 0  # empty, like every type
    with pytest.raises(ResponseError, match="unknown id"):
        validate_response(item, {"program": ["jump"]})
    with pytest.raises(ResponseError, match="only 'program'"):
        validate_response(item, {"choice": "fwd"})
    assert score_response(item, response_for_score(item, 0)) == 0

    package = export_qti3([item], tmp_path / "pkg")
    (back,) = import_qti(package)
    assert back == item
    assert back.content_hash() == item.content_hash()
    zipped = export_qti3([item], tmp_path / "pkg.zip")
    assert import_qti(zipped) == [item]


def test_a_seventh_type_is_validated_by_its_own_rules(block_type) -> None:
    bad = {**BLOCKS_ITEM, "program": ["fwd", "jump"], "grid": {"map": ["SG"]}}
    with pytest.raises(ItemBankError) as caught:
        build_item(bad)
    problems = {(e.field, e.message) for e in caught.value.errors}
    assert ("program", "'jump' is not among the block ids fwd, right, left") in problems
    assert ("grid", "not used by type block_program; remove it") in problems
    with pytest.raises(ItemBankError, match="max_score must be 1"):
        build_item({**BLOCKS_ITEM, "max_score": 2})
    # its fields are known to the other types while it is registered
    choice = {k: v for k, v in BLOCKS_ITEM.items() if k not in ("blocks", "program")}
    with pytest.raises(ItemBankError, match="field blocks: not used by type single_choice"):
        build_item({**choice, "type": "single_choice", "blocks": []})


def test_unregistering_forgets_the_type(block_type) -> None:
    assert "block_program" in item_types.names()
    item_types.unregister("block_program")
    assert "block_program" not in item_types.names()
    with pytest.raises(ItemBankError, match="unknown type 'block_program'"):
        build_item(BLOCKS_ITEM)
    item_types.register(block_type)  # for the fixture's own unregister


def test_the_registry_is_the_one_list_of_types() -> None:
    assert item_bank.ITEM_TYPES == item_types.BUILTIN_TYPES == item_types.names()
    assert item_types.partial_credit_names() == item_bank.PARTIAL_CREDIT_TYPES == {"ordering", "matching", "grid_path"}
    for name in item_types.names():
        kind = item_types.get(name)
        assert kind.name == name and kind.fields and kind.response_field
    with pytest.raises(ValueError, match="already registered"):
        item_types.register(item_types.get("ordering"))
    with pytest.raises(ValueError, match="built-in"):
        item_types.unregister("ordering")
    with pytest.raises(KeyError, match="unknown item type"):
        item_types.get("essay")
