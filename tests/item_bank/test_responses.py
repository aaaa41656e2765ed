"""Scoring of every item type: right, wrong, partial, empty and malformed responses."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from item_bank import ResponseError, score_response, shuffle_options, validate_response
from item_bank.responses import is_adjacent_swap, parse_number

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

EMPTY = {
    "single_choice": [None, {}, {"choice": None}, {"choice": ""}],
    "multiple_response": [None, {}, {"choices": []}],
    "ordering": [None, {}, {"order": []}],
    "matching": [None, {}, {"pairs": []}],
    "short_answer": [None, {}, {"text": ""}, {"text": "   "}],
    "grid_path": [None, {}, {"moves": ""}, {"moves": "  "}],
}


def test_empty_responses_score_zero(fixture_items) -> None:
    for item in fixture_items:
        for response in EMPTY[item.type]:
            assert validate_response(item, response) is None
            assert score_response(item, response) == 0


MALFORMED = {
    "fx-beaver-lunch": [
        "B", ["B"], {"choice": "E"}, {"choice": 2}, {"choice": ["B"]}, {"choices": ["B"]},
        {"choice": "B", "extra": 1},
    ],
    "fx-tags": [
        {"choices": "AC"}, {"choices": ["A", "Z"]}, {"choices": ["A", "A"]}, {"choices": [1]},
        {"choice": "A"},
    ],
    "fx-morning": [
        {"order": ["UP", "BRUSH", "EAT"]}, {"order": ["UP", "BRUSH", "EAT", "GO", "GO"]},
        {"order": ["UP", "BRUSH", "EAT", "EAT"]}, {"order": "UP BRUSH EAT GO"},
        {"order": ["UP", "BRUSH", "EAT", "NAP"]},
    ],
    "fx-match-signs": [
        {"pairs": [["L1", "R2"], ["L1", "R1"]]}, {"pairs": [["L9", "R2"]]}, {"pairs": [["L1", "R9"]]},
        {"pairs": [["L1"]]}, {"pairs": "L1R2"}, {"pairs": [["L1", 2]]}, {"pairs": {"L1": "R2"}},
    ],
    "fx-count-loop": [{"text": 42}, {"text": "4" * 201}, {"value": "42"}],
    "fx-robot-path": [
        {"moves": "RRX"}, {"moves": "→→"}, {"moves": ["R", "R"]}, {"moves": "R" * 21},
    ],
}


@pytest.mark.parametrize("item_id", sorted(MALFORMED))
def test_malformed_responses_raise(by_id, item_id) -> None:
    item = by_id[item_id]
    for response in MALFORMED[item_id]:
        with pytest.raises(ResponseError) as info:
            score_response(item, response)
        assert info.value.item_id == item_id
        assert str(info.value).startswith(f"item {item_id}, field ")


def test_single_choice(by_id) -> None:
    item = by_id["fx-beaver-lunch"]
    assert score_response(item, {"choice": "B"}) == 1
    assert [score_response(item, {"choice": c}) for c in "ACD"] == [0, 0, 0]


def test_multiple_response_is_all_or_nothing(by_id) -> None:
    item = by_id["fx-tags"]
    assert score_response(item, {"choices": ["C", "A"]}) == 1
    assert validate_response(item, {"choices": ["C", "A"]}) == {"choices": ["A", "C"]}
    for wrong in (["A"], ["A", "C", "D"], ["B", "D"], ["A", "B", "C", "D"]):
        assert score_response(item, {"choices": wrong}) == 0


def test_ordering_partial_credit(by_id) -> None:
    item = by_id["fx-morning"]  # key UP BRUSH EAT GO, max 2
    assert score_response(item, {"order": ["UP", "BRUSH", "EAT", "GO"]}) == 2
    assert score_response(item, {"order": ["BRUSH", "UP", "EAT", "GO"]}) == 1
    assert score_response(item, {"order": ["UP", "BRUSH", "GO", "EAT"]}) == 1
    assert score_response(item, {"order": ["EAT", "BRUSH", "UP", "GO"]}) == 0  # a distant swap
    assert score_response(item, {"order": ["GO", "EAT", "BRUSH", "UP"]}) == 0
    dichotomous = item.__class__(**{**item.__dict__, "max_score": 1, "irt": None})
    assert score_response(dichotomous, {"order": ["BRUSH", "UP", "EAT", "GO"]}) == 0
    assert score_response(dichotomous, {"order": list(item.key)}) == 1


def test_every_permutation_scores_in_range(by_id) -> None:
    item = by_id["fx-morning"]
    scores = {}
    for perm in itertools.permutations(item.option_ids):
        scores[perm] = score_response(item, {"order": list(perm)})
        assert 0 <= scores[perm] <= 2
    assert sum(1 for s in scores.values() if s == 2) == 1
    assert sum(1 for s in scores.values() if s == 1) == len(item.key) - 1  # adjacent swaps


@FAST
@given(st.permutations(["A", "B", "C", "D", "E", "F"]))
def test_adjacent_swap_is_kendall_distance_one(perm) -> None:
    key = ("A", "B", "C", "D", "E", "F")
    inversions = sum(
        1 for i, j in itertools.combinations(range(6), 2) if key.index(perm[i]) > key.index(perm[j])
    )
    assert is_adjacent_swap(tuple(perm), key) == (inversions == 1)


def test_matching_partial_credit(by_id) -> None:
    item = by_id["fx-match-signs"]  # 3 left ids, max 2
    right = [["L1", "R2"], ["L2", "R1"], ["L3", "R3"]]
    assert score_response(item, {"pairs": right}) == 2
    assert score_response(item, {"pairs": list(reversed(right))}) == 2
    assert score_response(item, {"pairs": [["L1", "R2"], ["L2", "R1"], ["L3", "R4"]]}) == 1
    assert score_response(item, {"pairs": [["L1", "R2"], ["L2", "R1"]]}) == 1  # 2 of 3 >= half
    assert score_response(item, {"pairs": [["L1", "R2"], ["L2", "R3"], ["L3", "R1"]]}) == 0  # 1 of 3
    assert score_response(item, {"pairs": [["L1", "R1"], ["L2", "R2"], ["L3", "R4"]]}) == 0
    # the same right id may be used by several left ids (categorising)
    assert score_response(item, {"pairs": [["L1", "R2"], ["L2", "R2"], ["L3", "R3"]]}) == 1
    dichotomous = item.__class__(**{**item.__dict__, "max_score": 1, "irt": None})
    assert score_response(dichotomous, {"pairs": right}) == 1
    assert score_response(dichotomous, {"pairs": right[:2]}) == 0


@FAST
@given(st.data())
def test_matching_scores_in_range(by_id, data) -> None:
    item = by_id["fx-match-signs"]
    lefts = data.draw(st.lists(st.sampled_from(item.left_ids), unique=True))
    pairs = [[lid, data.draw(st.sampled_from(item.right_ids))] for lid in lefts]
    score = score_response(item, {"pairs": pairs})
    correct = sum(1 for p in pairs if tuple(p) in set(item.key))
    assert 0 <= score <= 2
    assert (score == 2) == (correct == 3)
    assert (score >= 1) == (correct >= 2)


def test_numeric_short_answer_normalisation(by_id) -> None:
    item = by_id["fx-count-loop"]
    for right in ("42", " 42 ", "４２", "４２ ", "+42", "42.0", "42.00", "\u300042\t"):
        assert score_response(item, {"text": right}) == 1, right
    for wrong in ("41", "4 2", "42 claps", "forty-two", "4,2", "-42", "."):
        assert score_response(item, {"text": wrong}) == 0, wrong


def test_numeric_thousands_and_tolerance(raw_item) -> None:
    from item_bank import Item

    data = raw_item("fx-count-loop")
    data["answer"] = {"kind": "numeric", "value": 1234.5, "tolerance": 0.05}
    item = Item.from_dict(data)
    for right in ("1,234.5", "1234.5", "１，２３４．５", "1234.55", "1,234.46"):
        assert score_response(item, {"text": right}) == 1, right
    for wrong in ("1,23,4.5", "1234.56", "12,34.5", "1234.44"):
        assert score_response(item, {"text": wrong}) == 0, wrong


@FAST
@given(st.integers(min_value=-10**9, max_value=10**9), st.integers(min_value=-10**9, max_value=10**9))
def test_numeric_formats(by_id, value, typed) -> None:
    import dataclasses

    base = by_id["fx-count-loop"]
    item = dataclasses.replace(base, answer=dataclasses.replace(base.answer, value=value))
    fullwidth = str(typed).translate(str.maketrans("0123456789-", "０１２３４５６７８９-"))
    for text in (str(typed), f"{typed:,}", f"  {typed} ", fullwidth):
        assert score_response(item, {"text": text}) == int(value == typed)


def test_parse_number() -> None:
    assert parse_number("１,０００") == 1000
    assert parse_number("−3") == -3
    assert parse_number(".5") == parse_number("0.5")
    for bad in ("", "abc", "1e3", "1,00", "--1", "1..2", ","):
        assert parse_number(bad) is None, bad


def test_text_short_answer(by_id) -> None:
    item = by_id["fx-animal-word"]  # accepted 貓, cat, Kitty Cat; case-insensitive
    for right in ("貓", " 貓 ", "CAT", "Cat", "ｃａｔ", "kitty   cat", "KITTY CAT"):
        assert score_response(item, {"text": right}) == 1, right
    for wrong in ("狗", "cats", "kittycat", "c a t"):
        assert score_response(item, {"text": wrong}) == 0, wrong
    assert validate_response(item, {"text": " 貓 "}) == {"text": " 貓 "}  # stored as typed


def test_case_sensitive_text(raw_item) -> None:
    from item_bank import Item

    data = raw_item("fx-animal-word")
    data["answer"] = {"kind": "text", "accepted": ["Loop"], "case_sensitive": True}
    item = Item.from_dict(data)
    assert score_response(item, {"text": " Loop "}) == 1
    assert score_response(item, {"text": "loop"}) == 0


def test_grid_path(by_id) -> None:
    item = by_id["fx-robot-path"]
    assert score_response(item, {"moves": "RRDRRD"}) == 2
    assert score_response(item, {"moves": "r r d r r d"}) == 2
    assert validate_response(item, {"moves": "r r d r r d"}) == {"moves": "RRDRRD"}
    assert score_response(item, {"moves": "DDRRURRD"}) == 1  # reaches G, not by a shortest path
    assert score_response(item, {"moves": "RRDRR"}) == 0  # stops short
    assert score_response(item, {"moves": "RRR"}) == 0  # into a wall
    assert score_response(item, {"moves": "U"}) == 0  # off the grid
    assert score_response(item, {"moves": "RRDRRDU"}) == 0  # passes G and leaves it
    assert score_response(item, {"moves": "RRDRRDLR"}) == 0  # crashes after reaching G


def test_shuffle_options_does_not_change_scores(by_id) -> None:
    item = by_id["fx-beaver-lunch"]
    order = shuffle_options(item, seed=3)["options"]
    assert sorted(order) == sorted(item.option_ids)
    assert score_response(item, {"choice": "B"}) == 1  # the response names the id, not a position
    assert shuffle_options(by_id["fx-robot-path"], seed=3) == {}
