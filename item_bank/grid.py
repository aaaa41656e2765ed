"""Grid maps for grid_path items: parsing, BFS shortest path and move simulation."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from item_bank.model import Grid

__all__ = [
    "MOVES",
    "MapLayout",
    "Outcome",
    "normalize_moves",
    "parse_map",
    "shortest_path",
    "simulate",
]

Cell = tuple[int, int]

#: Move letters and their (row, column) steps; rows grow downwards.
MOVES: dict[str, Cell] = {"U": (-1, 0), "R": (0, 1), "D": (1, 0), "L": (0, -1)}

_CELLS = frozenset("SG#.")


@dataclass(frozen=True)
class MapLayout:
    """The parsed cells of a map: where the robot starts, where it must go, and the walls."""

    n_rows: int
    n_cols: int
    start: Cell
    goal: Cell
    walls: frozenset[Cell]


@dataclass(frozen=True)
class Outcome:
    """What happened when a move sequence was run: crash, final cell, goal reached, moves made."""

    crashed: bool
    position: Cell
    reached_goal: bool
    n_moves: int


def parse_map(rows: Sequence[str]) -> MapLayout:
    """Parse map rows of S, G, # and '.'; raise ValueError saying what is wrong with the map."""
    if isinstance(rows, str) or not rows:
        raise ValueError("the map must be a non-empty list of row strings")
    if not all(isinstance(r, str) for r in rows):
        raise ValueError("every map row must be a string")
    widths = {len(r) for r in rows}
    if 0 in widths:
        raise ValueError("map rows must not be empty")
    if len(widths) != 1:
        raise ValueError(f"the map is not rectangular: row lengths {sorted(widths)}")
    starts: list[Cell] = []
    goals: list[Cell] = []
    walls: set[Cell] = set()
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            if ch not in _CELLS:
                raise ValueError(
                    f"row {r + 1}, column {c + 1}: unknown cell {ch!r} (use S start, G goal, # wall, . free)"
                )
            if ch == "S":
                starts.append((r, c))
            elif ch == "G":
                goals.append((r, c))
            elif ch == "#":
                walls.add((r, c))
    if len(starts) != 1 or len(goals) != 1:
        raise ValueError(
            f"the map needs exactly one S and one G, found {len(starts)} S and {len(goals)} G"
        )
    return MapLayout(len(rows), len(rows[0]), starts[0], goals[0], frozenset(walls))


def shortest_path(layout: MapLayout) -> str | None:
    """Return one shortest move string from S to G by breadth-first search, or None if unreachable."""
    prev: dict[Cell, tuple[Cell, str] | None] = {layout.start: None}
    queue = deque([layout.start])
    while queue:
        cell = queue.popleft()
        if cell == layout.goal:
            letters: list[str] = []
            step = prev[cell]
            while step is not None:
                cell, letter = step
                letters.append(letter)
                step = prev[cell]
            return "".join(reversed(letters))
        for letter, (dr, dc) in MOVES.items():
            nxt = (cell[0] + dr, cell[1] + dc)
            if (
                0 <= nxt[0] < layout.n_rows
                and 0 <= nxt[1] < layout.n_cols
                and nxt not in layout.walls
                and nxt not in prev
            ):
                prev[nxt] = (cell, letter)
                queue.append(nxt)
    return None


def normalize_moves(moves: str) -> str:
    """Upper-case a move string and drop whitespace; raise ValueError for letters other than URDL."""
    cleaned = "".join(moves.split()).upper()
    bad = sorted({ch for ch in cleaned if ch not in MOVES})
    if bad:
        raise ValueError(f"unknown move letters {', '.join(map(repr, bad))} (use U, R, D, L)")
    return cleaned


def simulate(grid: Grid | MapLayout, moves: str) -> Outcome:
    """Run normalised moves from S; stop at the first move into a wall or off the map (a crash)."""
    layout = grid.layout if hasattr(grid, "layout") else grid
    r, c = layout.start
    for i, letter in enumerate(moves):
        dr, dc = MOVES[letter]
        nr, nc = r + dr, c + dc
        if not (0 <= nr < layout.n_rows and 0 <= nc < layout.n_cols) or (nr, nc) in layout.walls:
            return Outcome(crashed=True, position=(r, c), reached_goal=False, n_moves=i)
        r, c = nr, nc
    return Outcome(
        crashed=False, position=(r, c), reached_goal=(r, c) == layout.goal, n_moves=len(moves)
    )
