"""A student's attempt: ticket login, the explicit start, the server-authoritative timer, the attempt view, submit.

Login opens the attempt and issues a token but starts no clock: the student
first confirms their name, reads the instructions and tries the practice
item. The deadline is set when the student starts the test (start + time
limit + extra time). A proctor pause stops every clock of the session: while
paused the effective deadline moves with the wall clock, and on resume the
stored deadlines move by the paused time (see proctoring.resume_session); a
student who starts during a pause starts with the clock stopped. Expiry is
lazy: every request and `ctcensus sessions sweep` mark attempts past their
deadline as submitted with reason "deadline".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .db import utcnow
from .errors import Conflict, Forbidden, Unauthorized, Unprocessable
from .forms import form_items
from .models import Answer, Attempt, FormItem, ItemRecord, TestSession
from .states import AttemptStatus, SubmitReason
from .tickets import issue_token, normalize_ticket, read_token

__all__ = [
    "LoginResult",
    "attempt_for_token",
    "attempt_view",
    "check_form_item",
    "effective_deadline",
    "expire_if_due",
    "form_item_record",
    "iso",
    "login_with_ticket",
    "remaining_seconds",
    "running_deadline",
    "start_attempt",
    "submit_attempt",
    "sweep_expired",
    "timer_view",
]


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, as the API writes every time."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class LoginResult:
    """A logged-in attempt and its bearer token."""

    attempt: Attempt
    token: str


def login_with_ticket(session: Session, raw_ticket: str, *, secret_key: str, now: datetime | None = None) -> LoginResult:
    """Open the attempt a ticket belongs to and issue a token; the clock starts only at start_attempt.

    A second login (another device) opens the same attempt; earlier tokens stay
    valid so that answers queued on the first device still arrive.
    """
    now = now or utcnow()
    ticket = normalize_ticket(raw_ticket)
    attempt = None
    if ticket:
        attempt = session.scalar(select(Attempt).where(Attempt.ticket == ticket).with_for_update())
    if attempt is None:
        raise Unauthorized("this ticket is not valid; check the code on your ticket with your teacher",
                           code="bad_ticket")
    if attempt.locked:
        raise Forbidden("your test is locked; ask your teacher to unlock it", code="locked")
    if attempt.status == "not_started" and attempt.session.status == "closed":
        raise Conflict("this test session is closed; ask your teacher", code="session_closed")
    expire_if_due(attempt, now)
    session.flush()
    return LoginResult(attempt, issue_token(secret_key, attempt.id, attempt.token_version))


def start_attempt(attempt: Attempt, *, now: datetime | None = None) -> Attempt:
    """Start the clock (deadline = now + time limit + extra time); idempotent once started.

    Starting during a pause starts the clock stopped: effective_deadline and
    resume_session count the pause only from the start, so no time is lost.
    """
    now = now or utcnow()
    if attempt.locked:
        raise Forbidden("your test is locked; ask your teacher to unlock it", code="locked")
    if attempt.status != "not_started":
        expire_if_due(attempt, now)
        return attempt  # already started (or over): the deadline stays as it is
    test_session = attempt.session
    if test_session.status == "closed":
        raise Conflict("this test session is closed; ask your teacher", code="session_closed")
    attempt.status = AttemptStatus.IN_PROGRESS
    attempt.started_at = now
    attempt.last_contact_at = now
    attempt.deadline_at = now + timedelta(minutes=test_session.time_limit_minutes, seconds=attempt.extra_seconds)
    return attempt


def attempt_for_token(session: Session, token: str, *, secret_key: str, for_update: bool = False) -> Attempt:
    """The attempt a bearer token opens (and only that one); Unauthorized/Forbidden otherwise."""
    claims = read_token(secret_key, token)
    attempt = session.get(Attempt, claims.attempt_id, with_for_update=for_update, populate_existing=for_update)
    if attempt is None or attempt.token_version != claims.token_version:
        raise Unauthorized("this sign-in is no longer valid; sign in again with your ticket", code="token_revoked")
    if attempt.locked:
        raise Forbidden("your test is locked; ask your teacher to unlock it", code="locked")
    return attempt


class AttemptClock(Protocol):
    """What the clock of an attempt needs: an Attempt, or a row of its columns (the proctor's live view)."""

    @property
    def status(self) -> str: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def deadline_at(self) -> datetime | None: ...
    @property
    def extra_seconds(self) -> int: ...


def effective_deadline(attempt: AttemptClock, test_session: TestSession, now: datetime) -> datetime | None:
    """The deadline counting a pause in progress as not spent (None before the start)."""
    if attempt.deadline_at is None:
        return None
    if attempt.status != "in_progress":
        return attempt.deadline_at
    return running_deadline(attempt.deadline_at, attempt.started_at, test_session, now)


def running_deadline(deadline: datetime, started_at: datetime | None, test_session: TestSession,
                     now: datetime) -> datetime:
    """The deadline of a running clock with stored `deadline`, counting a pause in progress as not spent."""
    if test_session.status == "paused" and test_session.paused_at is not None:
        frozen_since = max(test_session.paused_at, started_at or test_session.paused_at)
        if now > frozen_since:
            return deadline + (now - frozen_since)
    return deadline


def remaining_seconds(attempt: AttemptClock, test_session: TestSession, now: datetime) -> int | None:
    """Whole seconds left on the clock (the whole time before the start; 0 when over)."""
    if attempt.status == "not_started":
        return test_session.time_limit_minutes * 60 + attempt.extra_seconds
    if attempt.status != "in_progress":
        return 0
    deadline = effective_deadline(attempt, test_session, now)
    if deadline is None:
        return None
    return max(0, int((deadline - now).total_seconds()))


def expire_if_due(attempt: Attempt, now: datetime) -> bool:
    """Submit an in-progress attempt whose time is up (reason "deadline"); True when it did."""
    if attempt.status != "in_progress":
        return False
    deadline = effective_deadline(attempt, attempt.session, now)
    if deadline is None or now < deadline:
        return False
    attempt.status = AttemptStatus.SUBMITTED
    attempt.submit_reason = SubmitReason.DEADLINE
    attempt.submitted_at = deadline
    return True


def sweep_expired(session: Session, now: datetime | None = None, *, actor: str = "system") -> int:
    """Submit every in-progress attempt past its deadline (for `ctcensus sessions sweep`).

    A sweep that submitted anything is audited with the attempt ids; an empty one
    (most runs of the every-minute job) leaves no entry.
    """
    now = now or utcnow()
    candidates = session.scalars(
        select(Attempt).where(Attempt.status == "in_progress", Attempt.deadline_at < now).with_for_update()
    ).all()
    submitted = [a.id for a in candidates if expire_if_due(a, now)]
    if submitted:
        audit.record(session, actor, "attempts.sweep", target="deadline", attempt_ids=submitted)
    return len(submitted)


def timer_view(attempt: Attempt, now: datetime) -> dict[str, Any]:
    """Status and clock of an attempt, as the student's client shows it."""
    test_session = attempt.session
    deadline = effective_deadline(attempt, test_session, now)
    return {
        "attempt_id": attempt.id,
        "status": attempt.status,
        "submit_reason": attempt.submit_reason,
        "session_status": test_session.status,
        "paused": test_session.status == "paused",
        "server_time": iso(now),
        "started_at": iso(attempt.started_at),
        "deadline_at": iso(deadline),
        "remaining_seconds": remaining_seconds(attempt, test_session, now),
        "time_limit_seconds": test_session.time_limit_minutes * 60 + attempt.extra_seconds,
        "submitted_at": iso(attempt.submitted_at),
    }


def attempt_view(session: Session, attempt: Attempt, *, lang: str = "zh-TW", now: datetime | None = None) -> dict[str, Any]:
    """Everything a student's client needs: clock, items (no keys) and acknowledged answers.

    Before the start (status "not_started") no item content is sent, only
    `item_count`: the clock starts at start_attempt, so items sent earlier
    could be read for free.
    """
    now = now or utcnow()
    test_session = attempt.session
    form = test_session.form
    seed = attempt.shuffle_seed if form.shuffle_options else None
    items = []
    pk_to_id = {}
    started = attempt.status != "not_started"
    for position, item_pk, item in form_items(session, form):
        pk_to_id[item_pk] = item.id
        if not started:
            continue
        view = item.student_view(lang, seed=seed)
        view["position"] = position
        items.append(view)
    answers = {}
    for answer in session.scalars(select(Answer).where(Answer.attempt_id == attempt.id)):
        item_id = pk_to_id.get(answer.item_pk)
        if item_id is not None:
            answers[item_id] = {"seq": answer.seq, "response": answer.response, "saved_at": iso(answer.saved_at)}
    student = attempt.student
    klass = test_session.school_class
    body = timer_view(attempt, now)
    body.update({
        "lang": items[0]["lang"] if items else lang,
        "student": {"name": student.display_name, "seat": student.seat_number, "class": klass.name,
                    "school": klass.school.name_zh},
        "item_count": len(pk_to_id),
        "items": items,
        "answers": answers,
    })
    return body


def submit_attempt(attempt: Attempt, *, now: datetime | None = None) -> Attempt:
    """End an attempt at the student's request; idempotent (a second submit changes nothing)."""
    now = now or utcnow()
    if attempt.status == "not_started":
        raise Conflict("this test has not been started", code="not_started")
    if attempt.status == "in_progress" and not expire_if_due(attempt, now):
        attempt.status = AttemptStatus.SUBMITTED
        attempt.submit_reason = SubmitReason.STUDENT
        attempt.submitted_at = now
    return attempt


def check_form_item(session: Session, attempt: Attempt, item_id: str) -> None:
    """Raise Unprocessable (unknown_item) unless `item_id` is an item on the attempt's form (cached for frozen forms)."""
    if not any(item.id == item_id for _, _, item in form_items(session, attempt.session.form)):
        raise Unprocessable("current_item is not an item of your test; send the id of the item on screen or null",
                            code="unknown_item")


def form_item_record(session: Session, test_session: TestSession, item_id: str) -> ItemRecord | None:
    """The stored item version with this id on the session's form (None when not on it)."""
    return session.scalar(
        select(ItemRecord).join(FormItem, FormItem.item_pk == ItemRecord.pk)
        .where(FormItem.form_id == test_session.form_id, ItemRecord.item_id == item_id)
    )
