"""The referee: every answer the server acknowledged must be in the database, each (attempt, item) once.

The simulated students note each acknowledgement in an `AckLedger` (attempt
id, item id, acknowledged seq). After the run, `read_stored` reads the
answers table directly and `judge` compares. Reading the database here does
not break the rule that the load test talks HTTP only: that rule is about the
load, which must reach the app as browsers do; the referee generates no load
and runs after the server has stopped, and the database is the one witness
that does not depend on the server's word.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["AckLedger", "AnswerVerdict", "Stored", "engine_url", "judge", "read_stored"]

Key = tuple[int, str]  # (attempt id, item id)


class AckLedger:
    """The highest acknowledged seq of every (attempt, item); a repeated acknowledgement is counted once."""

    def __init__(self) -> None:
        self._seq: dict[int, dict[str, int]] = {}  # attempt id -> item id -> seq
        self.saves = 0  # acknowledged saves, repeats included
        self.submits = 0  # acknowledged submits

    def acknowledge(self, attempt_id: int, item_id: str, seq: int) -> None:
        """Note that the server acknowledged `seq` (or a newer one) for this attempt's item."""
        self.saves += 1
        items = self._seq.setdefault(attempt_id, {})
        if seq > items.get(item_id, 0):
            items[item_id] = seq

    def seq(self, attempt_id: int, item_id: str) -> int | None:
        """The highest acknowledged seq of the item, None if none was."""
        return self._seq.get(attempt_id, {}).get(item_id)

    def of_attempt(self, attempt_id: int) -> dict[str, int]:
        """item id -> highest acknowledged seq, for one attempt."""
        return dict(self._seq.get(attempt_id, {}))

    def acknowledged(self) -> dict[Key, int]:
        """(attempt id, item id) -> highest acknowledged seq."""
        return {(attempt, item): seq for attempt, items in self._seq.items() for item, seq in items.items()}

    def __len__(self) -> int:
        return sum(map(len, self._seq.values()))


@dataclass(frozen=True)
class Stored:
    """What the database holds for the run's sessions."""

    answers: tuple[tuple[int, str, int], ...]  # (attempt id, item id, seq), one per stored row
    submitted: int  # attempts with status "submitted"


@dataclass(frozen=True)
class AnswerVerdict:
    """Acknowledged answers against stored ones."""

    acknowledged: int  # distinct (attempt, item) acknowledged
    stored: int  # stored answer rows of the run's attempts
    missing: tuple[tuple[int, str, int], ...]  # acknowledged (attempt, item, seq) with no stored row
    behind: tuple[tuple[int, str, int, int], ...]  # (attempt, item, acknowledged seq, older stored seq)
    duplicates: tuple[Key, ...]  # (attempt, item) stored more than once
    submits_acknowledged: int
    submitted_stored: int

    @property
    def covered(self) -> bool:
        """Every acknowledgement is stored (with its seq or a newer one), once, and every submit too."""
        return (not self.missing and not self.behind and not self.duplicates
                and self.submitted_stored >= self.submits_acknowledged)


def judge(acknowledged: Mapping[Key, int], stored: Stored, submits_acknowledged: int = 0) -> AnswerVerdict:
    """Compare acknowledgements (key -> highest acknowledged seq) with the stored rows."""
    counts = Counter((attempt, item) for attempt, item, _ in stored.answers)
    newest: dict[Key, int] = {}
    for attempt, item, seq in stored.answers:
        newest[(attempt, item)] = max(seq, newest.get((attempt, item), 0))
    missing, behind = [], []
    for (attempt, item), seq in sorted(acknowledged.items()):
        held = newest.get((attempt, item))
        if held is None:
            missing.append((attempt, item, seq))
        elif held < seq:
            behind.append((attempt, item, seq, held))
    return AnswerVerdict(
        acknowledged=len(acknowledged), stored=len(stored.answers), missing=tuple(missing), behind=tuple(behind),
        duplicates=tuple(sorted(key for key, n in counts.items() if n > 1)),
        submits_acknowledged=submits_acknowledged, submitted_stored=stored.submitted)


def engine_url(database_url: str) -> str:
    """The SQLAlchemy URL of a database URL: psycopg 3 (installed) for postgresql://, which means psycopg2."""
    if database_url.startswith("postgresql://"):
        return "postgresql+psycopg://" + database_url[len("postgresql://"):]
    return database_url


def read_stored(database_url: str, session_ids: Sequence[int] | Iterable[int]) -> Stored:
    """The stored answers (attempt id, item id, seq) and submitted attempts of the given test sessions."""
    from sqlalchemy import bindparam, create_engine, text

    ids = sorted(set(session_ids))
    engine = create_engine(engine_url(database_url))
    try:
        with engine.connect() as conn:
            answers = conn.execute(text(
                "SELECT a.attempt_id, i.item_id, a.seq FROM answers a JOIN items i ON i.pk = a.item_pk "
                "JOIN attempts t ON t.id = a.attempt_id WHERE t.session_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)), {"ids": ids}).all()
            submitted = conn.execute(text(
                "SELECT count(*) FROM attempts WHERE status = 'submitted' AND session_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)), {"ids": ids}).scalar_one()
    finally:
        engine.dispose()
    return Stored(answers=tuple((int(a), str(i), int(s)) for a, i, s in answers), submitted=int(submitted))
