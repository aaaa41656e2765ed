"""grid_path: steer a robot from S to G on a map with walls (moves U R D L); max 2: 2 only for a shortest path."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from item_bank.errors import ResponseError
from item_bank.fields import Collector, describe, is_int
from item_bank.grid import MOVES, normalize_moves, simulate
from item_bank.model import Grid, Item
from item_bank.qti.xml import QtiInteraction, ctc_tag, int_or_text, qti_tag
from item_bank.types.base import ItemType

__all__ = ["TYPE", "GridPath"]

_REVERSE = {"U": "D", "D": "U", "L": "R", "R": "L"}


class GridPath(ItemType):
    """The `grid` block (map rows and max_moves); response {"moves": "RRDD"}; scored by simulating the moves."""

    name = "grid_path"
    fields = ("grid",)
    response_field = "moves"
    partial_credit = True
    qti_interactions = ("qti-custom-interaction",)
    qti_external_scoring = True

    def parse(self, col: Collector, data: Mapping[str, Any], need_en: bool) -> dict[str, Any]:
        """The grid block: a rectangular map of S G # ., a reachable goal, max_moves >= the shortest path."""
        return {"grid": _parse_grid(col, data.get("grid"))}

    def to_dict(self, item: Item) -> dict[str, Any]:
        """The grid block."""
        return {"grid": item.grid.to_dict()} if item.grid is not None else {}

    def student_fields(self, item: Item, lang: str) -> dict[str, Any]:
        """The map and the move cap (never the shortest path)."""
        if item.grid is None:
            return {}
        return {"grid": {"map": list(item.grid.rows), "max_moves": item.grid.max_moves}}

    def normalize(self, item: Item, value: Any) -> Any:
        """Letters U R D L (any case, spaces ignored), upper-cased, at most max_moves."""
        field = self.response_field
        if not isinstance(value, str):
            raise ResponseError(item.id, field, f"must be a string of U R D L, got {type(value).__name__}")
        try:
            moves = normalize_moves(value)
        except ValueError as exc:
            raise ResponseError(item.id, field, str(exc)) from None
        assert item.grid is not None
        if len(moves) > item.grid.max_moves:
            raise ResponseError(item.id, field, f"{len(moves)} moves is more than the maximum {item.grid.max_moves}")
        return moves or None

    def score(self, item: Item, value: Any) -> int:
        """0 for a crash or missing G; max 2: 2 for a shortest path, 1 for a longer one."""
        assert item.grid is not None
        outcome = simulate(item.grid, value)
        if outcome.crashed or not outcome.reached_goal:
            return 0
        if item.max_score == 2 and outcome.n_moves != item.grid.shortest_path_length:
            return 1
        return item.max_score

    def sample_responses(self, item: Item, score: int, rng: random.Random) -> list[dict[str, Any]]:
        """A shortest path, a detour (there and back first), or single moves that miss G."""
        assert item.grid is not None
        path = item.grid.shortest_path() or ""
        if score == item.max_score:
            return [{"moves": path}]
        if score == 1 and item.max_score == 2 and path:
            return [{"moves": path[0] + _REVERSE[path[0]] + path}]
        return [{"moves": letter} for letter in MOVES
                if simulate(item.grid, letter).crashed or not simulate(item.grid, letter).reached_goal]

    def qti_declare(self, item: Item, decl: Element) -> None:
        """A single string (the moves); no correct response, since any path to G scores."""
        decl.attrib.update({"cardinality": "single", "base-type": "string"})

    def qti_interaction(self, item: Item, body: Element, image_src: Mapping[str, str]) -> None:
        """A custom interaction holding ctc:grid (max-moves) with one ctc:row per map row."""
        assert item.grid is not None
        inter = SubElement(
            body, qti_tag("qti-custom-interaction"), {"response-identifier": "RESPONSE", "class": "ctc-grid-path"}
        )
        grid = SubElement(inter, ctc_tag("grid"), {"max-moves": str(item.grid.max_moves)})
        for row in item.grid.rows:
            SubElement(grid, ctc_tag("row")).text = row

    def qti_processing(self, item: Item, root: Element) -> None:
        """None: SCORE is external-scored (the moves are simulated)."""
        return None

    def qti_read(self, source: QtiInteraction) -> dict[str, Any] | None:
        """A custom interaction with ctc:grid data."""
        grid = next((e for e in source.interaction.iter(ctc_tag("grid"))), None)
        if grid is None:
            return None
        block: dict[str, Any] = {"map": [(r.text or "") for r in grid.iter(ctc_tag("row"))]}
        max_moves = grid.get("max-moves")
        if max_moves is not None:
            block["max_moves"] = int_or_text(max_moves)
        return {"grid": block}


def _parse_grid(col: Collector, raw: Any) -> Grid | None:
    if not isinstance(raw, Mapping):
        col.add("grid", f"missing or not an object {{map, max_moves}}, found {describe(raw)}")
        return None
    ok = True
    for k in raw:
        if k not in ("map", "max_moves"):
            col.add(f"grid.{k}", "unknown field; a grid has map and max_moves")
            ok = False
    rows = raw.get("map")
    max_moves = raw.get("max_moves")
    if max_moves is not None and (not is_int(max_moves) or max_moves < 1):
        col.add("grid.max_moves", f"must be a positive integer, found {describe(max_moves)}")
        ok = False
    if not isinstance(rows, list):
        col.add("grid.map", f"must be a list of row strings, found {describe(rows)}")
        return None
    try:
        grid = Grid.from_map(rows, max_moves if ok else None)
    except ValueError as exc:
        col.add("grid.map", str(exc))
        return None
    if grid.shortest_path_length is None:
        col.add(
            "grid.map",
            f"the goal G (row {grid.goal[0] + 1}, column {grid.goal[1] + 1}) cannot be reached "
            f"from S (row {grid.start[0] + 1}, column {grid.start[1] + 1})",
        )
        return None
    if ok and grid.max_moves < grid.shortest_path_length:
        col.add(
            "grid.max_moves",
            f"{grid.max_moves} is less than the shortest path ({grid.shortest_path_length} moves)",
        )
        return None
    return grid if ok else None


TYPE = GridPath()
