"""The test-day hot path: per-app caches of what never changes, and the answer save in one statement.

What a save needs that never changes during a sitting is cached per app (per gunicorn
worker): an attempt's session and form (both fixed when the session is opened) and a
frozen form's items (a frozen form never changes; sessions freeze their form). What
changes (the attempt's status, lock, token version and deadline, the session's pause or
close) is checked by the database inside the statement that stores the answer:

* PostgreSQL: one statement in its own transaction (autocommit), so one round trip:
  lock the attempt row if it is open for this save (in progress, not locked, this token's
  version, before its deadline, session open, item on its form), upsert the answer only
  when its seq is newer, and move `attempts.last_contact_at` when it stored. PostgreSQL
  commits the statement before it answers, so the caller acknowledges a durable answer.
* SQLite: the same three steps in one `BEGIN IMMEDIATE` transaction (in-process, no
  round trips to save).

When the statement stores nothing (a replay or stale seq, paused, locked, revoked, past
the deadline, not started, submitted, an item not on the form, a malformed body) the fast
path answers `None` and the caller runs the full path (`answers.save_answer`), which
decides every such case exactly as docs/answer-protocol.md says. The fast path changes
nothing in those cases, so the two never disagree.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from item_bank import Item, ResponseError, score_response, validate_response

from .answers import MAX_SEQ, Ack
from .db import UTCDateTime
from .forms import item_from_content
from .models import Attempt, Form, FormItem, ItemRecord, TestSession

__all__ = ["AttemptRef", "DeliveredForm", "DeliveryCache", "save_answer_fast"]


@dataclass(frozen=True)
class AttemptRef:
    """What never changes about an attempt: its session and that session's form."""

    attempt_id: int
    session_id: int
    form_id: int


@dataclass(frozen=True)
class DeliveredForm:
    """A frozen form's items in order, and by item id."""

    form_id: int
    items: tuple[tuple[int, int, Item], ...]  # (position, item pk, Item)
    by_id: dict[str, tuple[int, Item]]  # item id -> (item pk, Item)


class DeliveryCache:
    """Per-app caches of attempts' forms and frozen forms' items (bounded; safe across threads)."""

    def __init__(self, max_attempts: int = 200_000, max_forms: int = 500) -> None:
        self.max_attempts = max_attempts
        self.max_forms = max_forms
        self._attempts: dict[int, AttemptRef] = {}
        self._forms: dict[int, DeliveredForm] = {}
        self._lock = threading.Lock()

    def attempt(self, conn: Connection, attempt_id: int) -> AttemptRef | None:
        """The attempt's session and form (read once per app), or None when there is no such attempt."""
        ref = self._attempts.get(attempt_id)
        if ref is None:
            row = conn.execute(select(Attempt.session_id, TestSession.form_id)
                               .join(TestSession, TestSession.id == Attempt.session_id)
                               .where(Attempt.id == attempt_id)).first()
            if row is None:
                return None
            ref = AttemptRef(attempt_id, int(row[0]), int(row[1]))
            with self._lock:
                if len(self._attempts) >= self.max_attempts:
                    self._attempts.clear()
                self._attempts[attempt_id] = ref
        return ref

    def form(self, conn: Connection, form_id: int) -> DeliveredForm | None:
        """A frozen form's items (read once per app); None for a form that is not frozen (it may still change)."""
        form = self._forms.get(form_id)
        if form is None:
            if not conn.scalar(select(Form.frozen).where(Form.id == form_id)):
                return None
            rows = conn.execute(
                select(FormItem.position, ItemRecord.pk, ItemRecord.content_hash, ItemRecord.content)
                .join(ItemRecord, ItemRecord.pk == FormItem.item_pk)
                .where(FormItem.form_id == form_id).order_by(FormItem.position)).all()
            items = tuple((int(pos), int(pk), item_from_content(pk, digest, content))
                          for pos, pk, digest, content in rows)
            form = DeliveredForm(form_id, items, {item.id: (pk, item) for _, pk, item in items})
            with self._lock:
                if len(self._forms) >= self.max_forms:
                    self._forms.clear()
                self._forms[form_id] = form
        return form


_now = bindparam("now", type_=UTCDateTime())
_claim = bindparam("claim", type_=UTCDateTime())
_response = bindparam("response", type_=JSON())

# The conditions under which a save is on time and open (docs/answer-protocol.md); anything else
# is left to the full path. Not paused means the stored deadline is the effective one.
_OPEN = """
    a.id = :attempt_id AND a.token_version = :token_version AND NOT a.locked
    AND a.status = 'in_progress' AND a.deadline_at > :now AND s.status = 'open'
"""

_PG_SAVE = text(f"""
WITH open_attempt AS (
    SELECT a.id, a.started_at FROM attempts a
    JOIN test_sessions s ON s.id = a.session_id
    JOIN form_items fi ON fi.form_id = s.form_id AND fi.item_pk = :item_pk
    WHERE {_OPEN}
    FOR UPDATE OF a
), stored AS (
    INSERT INTO answers (attempt_id, item_pk, seq, response, score, answered_at, saved_at)
    SELECT id, :item_pk, :seq, CAST(:response AS JSON), :score,
           LEAST(GREATEST(COALESCE(:claim, :now), COALESCE(started_at, :now)), :now), :now
    FROM open_attempt
    ON CONFLICT (attempt_id, item_pk) DO UPDATE SET seq = excluded.seq, response = excluded.response,
        score = excluded.score, answered_at = excluded.answered_at, saved_at = excluded.saved_at
    WHERE answers.seq < excluded.seq
    RETURNING attempt_id
)
UPDATE attempts SET last_contact_at = GREATEST(attempts.last_contact_at, :now)
FROM stored WHERE attempts.id = stored.attempt_id
RETURNING attempts.id
""").bindparams(_now, _claim, _response)

_SQLITE_CHECK = text(f"""
SELECT a.started_at FROM attempts a
JOIN test_sessions s ON s.id = a.session_id
JOIN form_items fi ON fi.form_id = s.form_id AND fi.item_pk = :item_pk
WHERE {_OPEN}
""").bindparams(_now).columns(started_at=UTCDateTime())

_SQLITE_UPSERT = text("""
INSERT INTO answers (attempt_id, item_pk, seq, response, score, answered_at, saved_at)
VALUES (:attempt_id, :item_pk, :seq, :response, :score, :answered_at, :now)
ON CONFLICT (attempt_id, item_pk) DO UPDATE SET seq = excluded.seq, response = excluded.response,
    score = excluded.score, answered_at = excluded.answered_at, saved_at = excluded.saved_at
WHERE answers.seq < excluded.seq
RETURNING seq
""").bindparams(_now, _response, bindparam("answered_at", type_=UTCDateTime()))

_SQLITE_CONTACT = text("""
UPDATE attempts SET last_contact_at = :now
WHERE id = :attempt_id AND (last_contact_at IS NULL OR last_contact_at < :now)
""").bindparams(_now)


def save_answer_fast(
    engine: Engine,
    cache: DeliveryCache,
    attempt_id: int,
    token_version: int,
    item_id: str,
    seq: Any,
    response: Any,
    *,
    answered_at: datetime | None,
    now: datetime,
) -> tuple[Ack, AttemptRef] | None:
    """Store a newer answer of an open, on-time attempt durably, or None to leave the request to the full path.

    Returns the acknowledgement (and the attempt's session, for the live status) only
    once the answer is committed. None means nothing was changed.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
        return None
    try:
        return _save(engine, cache, attempt_id, token_version, item_id, seq, response, answered_at, now)
    except DBAPIError as exc:
        # The pool does not ping before each checkout (a round trip per request): a connection that
        # died with a database restart fails once here and the pool drops its old connections. The
        # save is idempotent (a stored seq is never stored again), so trying once more is safe.
        if not exc.connection_invalidated:
            raise
    return _save(engine, cache, attempt_id, token_version, item_id, seq, response, answered_at, now)


def _save(engine: Engine, cache: DeliveryCache, attempt_id: int, token_version: int, item_id: str, seq: int,
          response: Any, answered_at: datetime | None, now: datetime) -> tuple[Ack, AttemptRef] | None:
    postgresql = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if postgresql:  # every statement is its own transaction: no BEGIN / COMMIT round trips
            conn.execution_options(isolation_level="AUTOCOMMIT")
        ref = cache.attempt(conn, attempt_id)
        form = cache.form(conn, ref.form_id) if ref is not None else None
        if not postgresql:
            conn.rollback()  # the cache reads end here; the save below is a transaction of its own
        if ref is None or form is None or item_id not in form.by_id:
            return None
        item_pk, item = form.by_id[item_id]
        try:
            normal = validate_response(item, response)
            score = int(score_response(item, normal))
        except ResponseError:
            return None
        values = {"attempt_id": attempt_id, "token_version": token_version, "item_pk": item_pk, "seq": seq,
                  "response": normal, "score": score, "now": now, "claim": answered_at}
        stored = _save_postgresql(conn, values) if postgresql else _save_sqlite(conn, values)
    return (Ack(item_id, seq, True), ref) if stored else None


def _save_postgresql(conn: Connection, values: dict[str, Any]) -> bool:
    # One statement in autocommit: PostgreSQL has committed it (synchronous_commit) when it answers.
    return conn.execute(_PG_SAVE, values).first() is not None


def _save_sqlite(conn: Connection, values: dict[str, Any]) -> bool:
    with conn.begin() as transaction:  # BEGIN IMMEDIATE (assessment.db): the three steps are one
        started = conn.execute(_SQLITE_CHECK, values).scalar_one_or_none()
        now = values["now"]
        if started is None:
            transaction.rollback()
            return False
        claim = values["claim"] or now
        stamp = min(max(claim, started), now)
        if conn.execute(_SQLITE_UPSERT, {**values, "answered_at": stamp}).first() is None:
            transaction.rollback()
            return False
        conn.execute(_SQLITE_CONTACT, values)
    return True
