"""Who sits the load test and when: the classes to open, the class-start waves, the think time (pure)."""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from itertools import zip_longest
from typing import Any

__all__ = ["REAL_THINK", "choose_classes", "default_think", "heartbeat_seconds", "login_offsets", "make_response",
           "parse_think"]

REAL_THINK = (10.0, 30.0)  # seconds between a real student's answers (issue 10's census pace)
SHORT_THINK = (1.0, 3.0)  # for runs under SHORT_RUN seconds, so that they still save answers
SHORT_RUN = 120.0
PLAYER_HEARTBEAT = 30.0  # the player's heartbeat while answering (webapp/static/player/main.js POLL_MS)


def choose_classes(classes: Sequence[Mapping[str, Any]], n_students: int) -> list[Mapping[str, Any]]:
    """Whole free grade-5 and grade-8 classes holding at least `n_students`, school by school.

    `classes` is `ctcensus classes list --json`. A school tests its classes of a
    grade together, so classes are taken a school grade at a time, alternating
    grade-5 and grade-8 schools: the run has both forms and as few schools (and
    proctor logins) as possible. Raises ValueError when the roster is too small.
    """
    if n_students < 1:
        raise ValueError(f"--students must be at least 1, got {n_students}")
    groups: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
    for c in classes:
        if c["grade"] in (5, 8) and c["students"] > 0 and c["open_session"] is None:
            groups.setdefault((c["school"], c["grade"]), []).append(c)
    by_grade = {grade: [g for key, g in groups.items() if key[1] == grade] for grade in (5, 8)}
    chosen: list[Mapping[str, Any]] = []
    seats = 0
    for pair in zip_longest(by_grade[5], by_grade[8]):
        for group in filter(None, pair):
            for c in group:
                if seats >= n_students:
                    return chosen
                chosen.append(c)
                seats += c["students"]
    if seats < n_students:
        raise ValueError(f"--students {n_students}: the roster has only {seats} students in grade 5 and 8 classes "
                         f"without a running session; ask for at most {seats}")
    return chosen


def login_offsets(class_sizes: Sequence[int], rate: float, seed: int = 113) -> list[list[float]]:
    """Seconds after the start at which each student of each class signs in.

    Classes start in waves: class k starts once the students of the classes
    before it have had their turn at `rate` new students a second, and its own
    students sign in at random moments within its share of that time (size /
    rate), i.e. within a few seconds of each other.
    """
    if rate <= 0:
        raise ValueError(f"--rate must be positive, got {rate}")
    rng = random.Random(seed)
    offsets, before = [], 0
    for size in class_sizes:
        start, spread = before / rate, size / rate
        offsets.append(sorted(start + rng.uniform(0, spread) for _ in range(size)))
        before += size
    return offsets


def parse_think(text: str, source: str = "--think") -> tuple[float, float]:
    """`MIN,MAX` seconds, 0 <= MIN <= MAX; ValueError naming `source` and the problem otherwise."""
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"{source} {text!r}: expected two numbers of seconds, MIN,MAX (e.g. 10,30)") from None
    if not 0 <= low <= high:
        raise ValueError(f"{source} {text!r}: expected 0 <= MIN <= MAX")
    return low, high


def default_think(duration: float) -> tuple[float, float]:
    """10-30 s between answers, as in a real sitting; 1-3 s for runs under two minutes, which must still save."""
    return SHORT_THINK if duration < SHORT_RUN else REAL_THINK


def heartbeat_seconds(think: tuple[float, float]) -> float:
    """The player's 30 s heartbeat, scaled with the think time (a 10x faster student beats 10x as often)."""
    scale = sum(think) / sum(REAL_THINK)
    return max(PLAYER_HEARTBEAT * scale, 0.5)


def make_response(item: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A well-formed (not necessarily right) response for any item type."""
    kind = item["type"]
    if kind == "single_choice":
        return {"choice": rng.choice(item["options"])["id"]}
    if kind == "multiple_response":
        ids = [o["id"] for o in item["options"]]
        return {"choices": rng.sample(ids, rng.randint(1, len(ids)))}
    if kind == "ordering":
        ids = [o["id"] for o in item["options"]]
        rng.shuffle(ids)
        return {"order": ids}
    if kind == "matching":
        rights = [r["id"] for r in item["right"]]
        return {"pairs": [[left["id"], rng.choice(rights)] for left in item["left"]]}
    if kind == "short_answer":
        return {"text": str(rng.randint(0, 20))}
    if kind == "grid_path":
        return {"moves": "".join(rng.choice("URDL") for _ in range(rng.randint(1, 8)))}
    raise ValueError(f"unknown item type {kind!r}")
