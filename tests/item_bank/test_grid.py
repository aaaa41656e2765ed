"""Grid maps: parsing, BFS shortest paths, move simulation and grid_path scoring invariants."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from item_bank import Grid, Item, Text, score_response, simulate
from item_bank.grid import MOVES, normalize_moves, parse_map, shortest_path

FAST = settings(max_examples=120, deadline=None)


def test_parse_and_bfs() -> None:
    layout = parse_map(["S..#.", ".#...", "...#G"])
    assert (layout.start, layout.goal, layout.n_rows, layout.n_cols) == ((0, 0), (2, 4), 3, 5)
    assert (1, 1) in layout.walls and len(layout.walls) == 3
    assert shortest_path(layout) == "RRDRRD"
    assert shortest_path(parse_map(["S#G"])) is None
    assert shortest_path(parse_map(["SG"])) == "R"


@pytest.mark.parametrize(
    "rows, message",
    [
        ([], "non-empty"),
        ("S.G", "non-empty list"),
        (["S.", "G"], "not rectangular"),
        (["S.", ""], "must not be empty"),
        (["S?G"], "unknown cell '?'"),
        (["S..", "..."], "found 1 S and 0 G"),
        (["SS", "GG"], "found 2 S and 2 G"),
    ],
)
def test_parse_errors(rows, message) -> None:
    with pytest.raises(ValueError, match=message.replace("?", r"\?").replace("[", r"\[")):
        parse_map(rows)


def test_simulate_outcomes() -> None:
    grid = Grid.from_map(["S..#.", ".#...", "...#G"])
    assert simulate(grid, "RRDRRD").reached_goal
    crash = simulate(grid, "RRRD")
    assert crash.crashed and crash.position == (0, 2) and crash.n_moves == 2
    off = simulate(grid, "L")
    assert off.crashed and off.position == (0, 0)
    short = simulate(grid, "RR")
    assert not short.crashed and short.position == (0, 2) and not short.reached_goal


def test_normalize_moves() -> None:
    assert normalize_moves(" r R\td\nl ") == "RRDL"
    with pytest.raises(ValueError, match="'X'"):
        normalize_moves("RXR")


@st.composite
def grids(draw):
    n_rows = draw(st.integers(1, 5))
    n_cols = draw(st.integers(2 if n_rows == 1 else 1, 5))
    cells = [(r, c) for r in range(n_rows) for c in range(n_cols)]
    start, goal = draw(st.lists(st.sampled_from(cells), min_size=2, max_size=2, unique=True))
    walls = draw(st.sets(st.sampled_from(cells)))
    rows = []
    for r in range(n_rows):
        row = ""
        for c in range(n_cols):
            row += "S" if (r, c) == start else "G" if (r, c) == goal else "#" if (r, c) in walls else "."
        rows.append(row)
    return rows


def _item(rows, max_score=2) -> Item:
    grid = Grid.from_map(rows, max_moves=40)
    return Item(
        id="hyp-grid", version=1, type="grid_path", dimension="D3", grades=(5,), status="draft",
        title=Text("格子"), stem=Text("走"), max_score=max_score, grid=grid,
    )


@FAST
@given(grids(), st.text(alphabet="URDL", max_size=40), st.sampled_from([1, 2]))
def test_grid_scoring_invariants(rows, moves, max_score) -> None:
    item = _item(rows, max_score)
    score = score_response(item, {"moves": moves})
    outcome = simulate(item.grid, moves)
    assert 0 <= score <= max_score
    assert (score > 0) == (not outcome.crashed and outcome.reached_goal)
    if score == 2:
        assert len(moves) == item.grid.shortest_path_length
    # letter case and spaces never change the score
    spaced = " ".join(moves.lower())
    assert score_response(item, {"moves": spaced}) == score


@FAST
@given(grids())
def test_bfs_path_is_shortest_and_full_marks(rows) -> None:
    item = _item(rows)
    path = item.grid.shortest_path()
    assume(path is not None)
    assert len(path) == item.grid.shortest_path_length
    assert score_response(item, {"moves": path}) == 2
    # no shorter move string reaches G: the BFS distance is a lower bound on any walk
    (r0, c0), (r1, c1) = item.grid.start, item.grid.goal
    assert len(path) >= abs(r0 - r1) + abs(c0 - c1)


@FAST
@given(grids(), st.text(alphabet="URDL", max_size=12))
def test_any_reaching_walk_is_at_least_bfs_length(rows, moves) -> None:
    item = _item(rows)
    outcome = simulate(item.grid, moves)
    if not outcome.crashed and outcome.reached_goal:
        assert item.grid.shortest_path_length is not None
        assert len(moves) >= item.grid.shortest_path_length


def test_moves_table() -> None:
    assert set(MOVES) == {"U", "R", "D", "L"}
