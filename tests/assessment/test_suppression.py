"""Small-cell and complementary suppression."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from assessment.suppression import suppress


def test_a_class_of_three_is_hidden_and_a_complementary_class_with_it() -> None:
    sizes = {"school": 30, "c1": 3, "c2": 12, "c3": 15}
    hidden = suppress(sizes, [("school", ["c1", "c2", "c3"])], 10)
    assert hidden == {"c1": "small", "c2": "complementary"}  # the smaller sibling, so school - c3 reveals nothing


def test_a_hidden_parent_whose_children_are_all_shown_hides_a_child() -> None:
    sizes = {"district": 100, "school_a": 40, "school_b": 5, "school_c": 55, "a1": 20, "a2": 20}
    relations = [("district", ["school_a", "school_b", "school_c"]), ("school_a", ["a1", "a2"])]
    hidden = suppress(sizes, relations, 10)
    assert hidden["school_b"] == "small"
    assert hidden["school_a"] == "complementary"
    assert "a1" in hidden or "a2" in hidden  # else school_a = a1 + a2
    assert "district" not in hidden


def test_an_only_child_under_the_minimum_hides_its_parent() -> None:
    assert suppress({"p": 12, "c": 12, "small": 4}, [("p", ["c"])], 10) == {"small": "small"}
    assert suppress({"p": 8, "c": 8}, [("p", ["c"])], 10) == {"p": "small", "c": "small"}


@settings(max_examples=200)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8), st.integers(1, 20))
def test_no_relation_is_left_with_exactly_one_hidden_cell(children: list[int], min_n: int) -> None:
    sizes = {f"c{k}": n for k, n in enumerate(children)} | {"parent": sum(children)}
    relations = [("parent", [f"c{k}" for k in range(len(children))])]
    hidden = suppress(sizes, relations, min_n)
    members = ["parent", *relations[0][1]]
    assert sum(m in hidden for m in members) != 1
    assert all(c in hidden for c, n in sizes.items() if n < min_n)
    together = sum(sizes[c] for c in relations[0][1] if c in hidden)
    assert "parent" in hidden or together == 0 or together >= min_n  # parent - shown = a group of >= min_n


def test_two_small_siblings_are_not_recoverable_together() -> None:
    hidden = suppress({"D": 100, "A": 4, "B": 3, "C": 93}, [("D", ["A", "B", "C"])], 10)
    assert hidden == {"A": "small", "B": "small", "C": "complementary"}
