"""Saving answers so that none is ever lost: validate, upsert only a newer seq, commit, then ack.

The upsert is one `INSERT ... ON CONFLICT (attempt_id, item_pk) DO UPDATE ...
WHERE answers.seq < excluded.seq` statement (PostgreSQL and SQLite), so two
workers racing on the same answer can never store an older seq over a newer
one; the attempt row is also locked (FOR UPDATE on PostgreSQL, BEGIN
IMMEDIATE on SQLite) so a save and a submit never interleave. The protocol,
including the late-delivery rule, is documented in docs/answer-protocol.md.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert as insert_stmt
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from item_bank import ResponseError, score_response, validate_response

from .attempts import effective_deadline, form_item_record
from .db import utcnow
from .errors import Conflict, Forbidden, InvalidInput, NotFound, Unprocessable
from .forms import delivered_item
from .models import Answer, Attempt

__all__ = ["LATE_GRACE", "MAX_SEQ", "Ack", "insert_answers", "parse_client_time", "safe_message", "save_answer"]

MAX_SEQ = 2**31 - 1
LATE_GRACE = timedelta(seconds=120)


@dataclass(frozen=True)
class Ack:
    """The acknowledgement: the seq now stored for the item (≥ the one sent); `changed` if this save stored it."""

    item_id: str
    seq: int
    changed: bool


def safe_message(text: str, limit: int = 300) -> str:
    """A message that may quote client input, made inert (HTML-escaped, shortened)."""
    text = str(text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=True)


def parse_client_time(value: Any) -> datetime | None:
    """The client's `answered_at` claim: ISO 8601 with a time zone, or None when absent."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput("answered_at must be an ISO 8601 time with a time zone, e.g. 2026-05-04T01:02:03Z",
                           code="bad_answered_at")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInput("answered_at must be an ISO 8601 time with a time zone, e.g. 2026-05-04T01:02:03Z",
                           code="bad_answered_at")
    return parsed


def save_answer(
    session: Session,
    attempt_id: int,
    item_id: str,
    seq: Any,
    response: Any,
    *,
    answered_at: datetime | None = None,
    now: datetime | None = None,
) -> Ack:
    """Store a response if `seq` is newer than the stored one, in the caller's transaction.

    The caller commits and only then acknowledges. Raises InvalidInput (bad
    seq), NotFound (item not on the form), Unprocessable (malformed response:
    nothing stored), Forbidden (locked) or Conflict (not open: submitted,
    paused, time up).
    """
    now = now or utcnow()
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
        raise InvalidInput(f"seq must be an integer from 1 to {MAX_SEQ}", code="bad_seq")
    attempt = session.get(Attempt, attempt_id, with_for_update=True, populate_existing=True)
    if attempt is None:
        raise NotFound("no such attempt")
    test_session = attempt.session
    record = form_item_record(session, test_session, item_id)
    if record is None:
        raise NotFound("this item is not part of your test", code="unknown_item")

    stored = session.scalar(select(Answer.seq).where(Answer.attempt_id == attempt.id, Answer.item_pk == record.pk))
    if stored is not None and stored >= seq:
        return Ack(record.item_id, stored, False)  # a replay or a stale save: nothing changes

    item = delivered_item(record)
    try:
        # The normal form is stored (None for an empty or cleared answer, which scores 0).
        response = validate_response(item, response)
        score = int(score_response(item, response))
    except ResponseError as exc:
        raise Unprocessable(safe_message(f"the response does not fit item {item.id}: {exc.message}"),
                            code="invalid_response") from None

    if attempt.locked:
        raise Forbidden("your test is locked; ask your teacher to unlock it", code="locked")
    if attempt.status == "not_started":
        raise Conflict("the test has not been started yet; press the start button first", code="not_started")
    late = False
    if attempt.status == "submitted" and attempt.submit_reason != "deadline":
        raise Conflict("this test has been submitted; answers can no longer change", code="submitted")
    if test_session.status == "closed":  # also ends late delivery (protocol rule 2)
        raise Conflict("this test session is closed; answers can no longer change", code="session_closed")
    if attempt.status == "submitted":
        late = True
    elif test_session.status == "paused":
        raise Conflict("the test is paused by your teacher; the answer will be sent when it resumes", code="paused")
    else:
        deadline = effective_deadline(attempt, test_session, now)
        late = deadline is not None and now >= deadline
    if late:
        stamp = _late_stamp(attempt, answered_at, now)
    else:
        lower = attempt.started_at or now
        stamp = min(max(answered_at or now, lower), now)

    values = {"attempt_id": attempt.id, "item_pk": record.pk, "seq": seq, "response": response,
              "score": score, "answered_at": stamp, "saved_at": now}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Answer).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Answer.attempt_id, Answer.item_pk],
        set_={k: stmt.excluded[k] for k in ("seq", "response", "score", "answered_at", "saved_at")},
        where=Answer.seq < stmt.excluded.seq,
    )
    result = session.execute(stmt)
    if getattr(result, "rowcount", 1) == 0:  # pragma: no cover - only without the row lock: a newer seq won the race
        newer = session.scalar(select(Answer.seq).where(Answer.attempt_id == attempt.id, Answer.item_pk == record.pk))
        return Ack(record.item_id, int(newer or seq), False)
    if not late:
        # Kept on the (locked) attempt row, not read back from answers.saved_at: a late re-save of an
        # item rewrites its saved_at, which would move the late rule's lower bound back to the start.
        attempt.last_contact_at = max(now, attempt.last_contact_at or now)
    return Ack(record.item_id, seq, True)


def _late_stamp(attempt: Attempt, claim: datetime | None, now: datetime) -> datetime:
    """Accept an answer delivered after the deadline only if made before it during an outage.

    It must arrive within LATE_GRACE of the deadline, and the client's claim
    must lie between the attempt's last contact (`last_contact_at`: the start,
    then the last answer the server stored before the deadline; the client was
    online then, so anything older would have been delivered) and the deadline.
    """
    deadline = attempt.deadline_at
    assert deadline is not None
    if now > deadline + LATE_GRACE or claim is None:
        raise Conflict("time is up; answers made after the deadline are not accepted", code="time_up")
    started = attempt.started_at or deadline
    lower = max(attempt.last_contact_at or started, started)
    if not lower <= claim <= deadline:
        raise Conflict("time is up; answers made after the deadline are not accepted", code="time_up")
    return claim


def insert_answers(session: Session, rows: list[dict[str, Any]]) -> int:
    """Store many answers that did not come through the live protocol (a simulated census, imported scores).

    Each row holds attempt_id, item_pk, seq, response, score, answered_at and
    saved_at; callers score responses with item_bank.score_response (or take
    imported item scores as given). One multi-row insert per 5,000 rows.
    """
    for start in range(0, len(rows), 5000):
        session.execute(insert_stmt(Answer), rows[start:start + 5000])
    return len(rows)
