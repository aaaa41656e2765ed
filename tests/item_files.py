"""Small valid item files for tests that need a bank without depending on the starter content."""
from __future__ import annotations

from pathlib import Path

SINGLE = """\
id: t-lamp-choice
version: 1
type: single_choice
dimension: D3
grades: [5, 8]
anchor: true
status: operational
title: {zh-TW: 燈籠, en: Lanterns}
stem: {zh-TW: "迴圈執行 3 次，每次掛 2 個燈籠，共掛幾個？", en: "A loop runs 3 times and hangs 2 lanterns each time. How many lanterns?"}
rationale: {zh-TW: 3 × 2 = 6, en: 3 x 2 = 6}
max_score: 1
options:
  - {id: A, text: {zh-TW: "5", en: "5"}}
  - {id: B, text: {zh-TW: "6", en: "6"}}
  - {id: C, text: {zh-TW: "8", en: "8"}}
key: B
irt: {model: 2pl, a: 1.2, d: [0.5], parameter_set: provisional-test}
"""

GRID = """\
id: t-harbour-path
version: 1
type: grid_path
dimension: D3
grades: [8]
anchor: false
status: operational
title: {zh-TW: 港口路線, en: Harbour route}
stem: {zh-TW: 用最少步數把船開到 G。, en: Steer the boat to G in as few moves as possible.}
rationale: {zh-TW: 最短路徑為 4 步。, en: The shortest route has 4 moves.}
max_score: 2
grid:
  map:
    - "S.#"
    - "..."
    - "#.G"
irt: {model: gpcm, a: 1.0, d: [0.8, -0.4], parameter_set: provisional-test}
"""


def write_bank(folder: Path, **overrides: str) -> Path:
    """Write the two test items (optionally replacing a file's text) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"t-lamp-choice.yaml": SINGLE, "t-harbour-path.yaml": GRID, **overrides}
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
