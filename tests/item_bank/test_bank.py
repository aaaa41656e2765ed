"""The starter bank (item_bank/content/): valid, keyed right, leak-free, and broad enough for forms."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from item_bank import (
    DIMENSIONS,
    ITEM_TYPES,
    Item,
    content_dir,
    load_bank,
    score_response,
)


def _keyed_response(item: Item) -> dict:
    if item.type == "single_choice":
        return {"choice": item.key}
    if item.type in ("multiple_response",):
        return {"choices": list(item.key_ids)}
    if item.type == "ordering":
        return {"order": list(item.key_ids)}
    if item.type == "matching":
        return {"pairs": [list(p) for p in item.key_pairs]}
    if item.type == "short_answer":
        answer = item.answer
        return {"text": str(answer.value) if answer.kind == "numeric" else answer.accepted[0]}
    return {"moves": item.grid.shortest_path()}


@pytest.fixture(scope="module")
def bank() -> list[Item]:
    root = content_dir()
    if not root.is_dir() or not any(root.rglob("*.yaml")):
        pytest.skip("item_bank/content/ has no items yet")
    return load_bank(root)


def test_keyed_responses_score_full_marks(bank) -> None:
    for item in bank:
        assert score_response(item, _keyed_response(item)) == item.max_score, item.id
        assert score_response(item, None) == 0


def test_student_views_do_not_leak(bank) -> None:
    for item in bank:
        for lang in ("zh-TW", "en"):
            blob = json.dumps(item.student_view(lang, seed=1), ensure_ascii=False)
            for secret in ('"key"', '"answer"', '"rationale"', '"irt"', "parameter_set"):
                assert secret not in blob, (item.id, secret)
            if item.rationale is not None:
                assert item.rationale.get(lang) not in blob, item.id


def test_bank_covers_the_census_design(bank) -> None:
    current = [i for i in bank if i.status != "retired"]
    assert len(current) >= 48
    assert {i.type for i in current} == set(ITEM_TYPES)
    assert {i.dimension for i in current} == set(DIMENSIONS)
    assert sum(1 for i in current if i.anchor) >= 8
    per_grade = Counter(g for i in current for g in i.grades)
    assert per_grade[5] >= 20 and per_grade[8] >= 24
    assert all(i.rationale is not None for i in current)
    assert all(i.irt is not None for i in current)


def _straight_across(item: Item, left: tuple[str, ...], right: tuple[str, ...]) -> dict:
    """The guess of a student who matches each left item to the right item beside it."""
    return {"pairs": [[lid, rid] for lid, rid in zip(left, right, strict=False)]}


def test_no_item_gives_its_key_away_by_its_presented_order(bank) -> None:
    """Issue 8.1: answering "straight across" (or leaving an ordering as shown) must score 0."""
    for item in (i for i in bank if i.status != "retired"):
        if item.type == "matching":
            assert score_response(item, _straight_across(item, item.left_ids, item.right_ids)) == 0, item.id
        if item.type == "ordering":
            assert score_response(item, {"order": list(item.option_ids)}) == 0, item.id


def test_shuffled_delivery_never_hands_out_a_leaky_order(bank) -> None:
    """Per-student shuffles: an ordering item is never shown within one swap of its key."""
    for item in (i for i in bank if i.status != "retired" and i.type == "ordering"):
        for seed in range(200):
            shown = item.display_order(seed)["options"]
            assert score_response(item, {"order": list(shown)}) == 0, (item.id, seed)


def test_leaky_published_versions_are_kept_as_retired(bank) -> None:
    """The fixed matching items are new versions; the published version 1 stays in the bank, retired."""
    by_ref = {(i.id, i.version): i for i in bank}
    for item_id in ("d1-app-parts-ipo", "d1-data-kinds", "d1-weather-columns", "d2-function-machines",
                    "d2-sequence-rules", "d3-loop-output-match", "d4-symptom-cause"):
        old, new = by_ref[(item_id, 1)], by_ref[(item_id, 2)]
        assert old.status == "retired" and new.status in ("operational", "pilot"), item_id
        assert new.irt == old.irt  # provisional judgements carried over until a calibration
        # the same meaning: every left text still goes with the same right text
        old_texts, new_texts = ({o.id: o.text for o in i.right} for i in (old, new))
        assert {(lid, old_texts[rid]) for lid, rid in old.key_pairs} == \
            {(lid, new_texts[rid]) for lid, rid in new.key_pairs}, item_id
        assert sorted(map(str, old_texts.values())) == sorted(map(str, new_texts.values()))
