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
