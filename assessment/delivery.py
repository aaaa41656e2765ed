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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from item_bank import Item, ResponseError, score_response, validate_response

from .answers import MAX_SEQ, Ack
from .attempts import effective_deadline, iso, timer_view
from .db import UTCDateTime
from .forms import item_from_content
from .models import Answer, Attempt, Form, FormItem, ItemRecord, School, SchoolClass, Student, TestSession
from .tickets import issue_token, normalize_ticket

__all__ = ["AttemptRef", "DeliveredForm", "DeliveryCache", "attempt_clock", "attempt_document", "save_answer_fast", "start_fast",
           "submit_fast", "ticket_login"]


@dataclass(frozen=True)
class AttemptRef:
    """What never changes about an attempt: its session and that session's form."""

    attempt_id: int
    session_id: int
    form_id: int


@dataclass(frozen=True)
class _Rendered:
    """One item's student view in one language with options in authored order, and each option's entry."""

    view: dict[str, Any]
    entries: dict[str, dict[str, Any]]  # option id -> {"id", "text"} as the view lists it


@dataclass(frozen=True)
class DeliveredForm:
    """A frozen form's items in order, by item id, and their student views rendered once per language."""

    form_id: int
    items: tuple[tuple[int, int, Item], ...]  # (position, item pk, Item)
    by_id: dict[str, tuple[int, Item]]  # item id -> (item pk, Item)
    _rendered: dict[str, tuple[_Rendered, ...]] = field(default_factory=dict, repr=False, compare=False)

    def student_views(self, lang: str, seed: int | None) -> list[dict[str, Any]]:
        """Every item's `Item.student_view(lang, seed)` with its position, as `attempts.attempt_view` sends them.

        The language's views are rendered once; a seed only reorders the option lists
        (`Item.display_order`), which is all a per-student shuffle changes.
        """
        rendered = self._rendered.get(lang)
        if rendered is None:
            rendered = self._rendered[lang] = tuple(_render(item, lang) for _, _, item in self.items)
        views = []
        for (position, _, item), done in zip(self.items, rendered, strict=True):
            view = dict(done.view)
            if seed is not None:
                for name, ids in item.display_order(seed).items():
                    view[name] = [done.entries[i] for i in ids]
            view["position"] = position
            views.append(view)
        return views


def _render(item: Item, lang: str) -> _Rendered:
    view = item.student_view(lang)
    entries = {entry["id"]: entry for name in ("options", "left", "right") for entry in view.get(name, ())}
    return _Rendered(view, entries)


class DeliveryCache:
    """Per-app caches of attempts' forms and frozen forms' items (bounded; safe across threads)."""

    def __init__(self, max_attempts: int = 200_000, max_forms: int = 500) -> None:
        self.max_attempts = max_attempts
        self.max_forms = max_forms
        self._attempts: dict[int, AttemptRef] = {}
        self._forms: dict[int, DeliveredForm] = {}
        self._shuffle: dict[int, bool] = {}
        self._schools: dict[int, str] = {}
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

    def school_name(self, conn: Connection, school_id: int) -> str:
        """A school's (zh-TW) name, read once per app."""
        name = self._schools.get(school_id)
        if name is None:
            name = self._schools[school_id] = str(conn.scalar(select(School.name_zh).where(School.id == school_id)))
        return name

    def shuffles(self, form_id: int) -> bool:
        """Whether a cached (frozen) form shuffles options per student."""
        return self._shuffle[form_id]

    def form(self, conn: Connection, form_id: int) -> DeliveredForm | None:
        """A frozen form's items (read once per app); None for a form that is not frozen (it may still change)."""
        form = self._forms.get(form_id)
        if form is None:
            flags = conn.execute(select(Form.frozen, Form.shuffle_options).where(Form.id == form_id)).first()
            if flags is None or not flags.frozen:
                return None
            self._shuffle[form_id] = bool(flags.shuffle_options)
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


# --- reading an attempt, signing in and starting without the ORM --------------------------------------------

_ATTEMPT_COLUMNS = (Attempt.id, Attempt.session_id, Attempt.status, Attempt.token_version, Attempt.locked,
                    Attempt.started_at, Attempt.deadline_at, Attempt.submitted_at, Attempt.submit_reason,
                    Attempt.extra_seconds, Attempt.shuffle_seed, TestSession.status.label("session_status"),
                    TestSession.paused_at, TestSession.time_limit_minutes, TestSession.form_id,
                    Student.family_name, Student.given_name, Student.seat_number,
                    SchoolClass.name.label("class_name"))
_ATTEMPT_FIELDS = ("id", "session_id", "status", "token_version", "locked", "started_at", "deadline_at",
                   "submitted_at", "submit_reason", "extra_seconds", "shuffle_seed")
_SESSION_FIELDS = {"session_status": "status", "paused_at": "paused_at", "time_limit_minutes": "time_limit_minutes",
                   "form_id": "form_id"}


_ATTEMPT_QUERY = (select(*_ATTEMPT_COLUMNS)
                  .join(TestSession, TestSession.id == Attempt.session_id)
                  .join(Student, Student.id == Attempt.student_id)
                  .join(SchoolClass, SchoolClass.id == TestSession.class_id))


def _detached(row: Any) -> Attempt:
    """A transient Attempt with its TestSession from a row, so attempts.timer_view computes the clock as usual."""
    attempt = Attempt(**{name: getattr(row, name) for name in _ATTEMPT_FIELDS})
    attempt.session = TestSession(id=row.session_id, **{attr: getattr(row, col) for col, attr in _SESSION_FIELDS.items()})
    return attempt


def _ordinary(row: Any, token_version: int | None, now: datetime) -> bool:
    """Whether the full path would read this attempt without an error or a write (no expiry due)."""
    if row.locked or (token_version is not None and row.token_version != token_version):
        return False
    if row.status == "in_progress":
        attempt = _detached(row)
        deadline = effective_deadline(attempt, attempt.session, now)
        return deadline is None or now < deadline
    return True


def attempt_document(engine: Engine, cache: DeliveryCache, attempt_id: int, token_version: int, *, lang: str,
                     now: datetime) -> tuple[dict[str, Any], AttemptRef] | None:
    """`GET /attempt`'s body (as attempts.attempt_view builds it) in one statement, or None for the full path.

    None when the token is revoked, the attempt locked, its deadline due (the full path
    expires it), or its form not frozen.
    """
    found = _read_document(engine, cache, Attempt.id == attempt_id, lang=lang, now=now)
    if found is None or not _ordinary(found[1], token_version, now):
        return None
    return found[0], found[2]


def _read_document(engine: Engine, cache: DeliveryCache, where: Any, *, lang: str,
                   now: datetime) -> tuple[dict[str, Any], Any, AttemptRef] | None:
    """The attempt document of the one attempt matching `where`, its first row (for the caller's checks) and ref."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")
        rows = conn.execute(
            _ATTEMPT_QUERY.add_columns(SchoolClass.school_id, Answer.item_pk, Answer.seq, Answer.response,
                                       Answer.saved_at)
            .outerjoin(Answer, Answer.attempt_id == Attempt.id).where(where)).all()
        if not rows:
            return None
        first = rows[0]
        form = cache.form(conn, first.form_id)
        school = cache.school_name(conn, first.school_id)
    if form is None:
        return None
    answers = [(row.item_pk, row.seq, row.response, row.saved_at) for row in rows if row.item_pk is not None]
    body = _document(cache, form, first, school, answers, lang=lang, now=now)
    return body, first, AttemptRef(first.id, first.session_id, first.form_id)


def _document(cache: DeliveryCache, form: DeliveredForm, row: Any, school: str,
              answers: list[tuple[int, int, Any, datetime]], *, lang: str, now: datetime) -> dict[str, Any]:
    """The attempt document (docs/answer-protocol.md) from an attempt row, its form, school and stored answers."""
    shuffle = cache.shuffles(form.form_id)
    started = row.status != "not_started"
    pk_to_id = {pk: item.id for _, pk, item in form.items}
    items = form.student_views(lang, row.shuffle_seed if shuffle else None) if started else []
    stored = {}
    for item_pk, seq, response, saved_at in answers:
        item_id = pk_to_id.get(item_pk)
        if item_id is not None:
            stored[item_id] = {"seq": seq, "response": response, "saved_at": iso(saved_at)}
    body = timer_view(_detached(row), now)
    body.update({
        "lang": items[0]["lang"] if items else lang,
        "student": {"name": f"{row.family_name}{row.given_name}", "seat": row.seat_number,
                    "class": row.class_name, "school": school},
        "item_count": len(pk_to_id),
        "items": items,
        "answers": stored,
    })
    return body


def attempt_clock(engine: Engine, cache: DeliveryCache, attempt_id: int, token_version: int,
                  current_item: str | None, *, now: datetime) -> tuple[dict[str, Any], AttemptRef] | None:
    """A heartbeat's answer (the clock, as attempts.timer_view) in one statement, or None for the full path.

    None also when `current_item` is not an item of the attempt's (frozen) form: the full path answers 422.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")
        row = conn.execute(_ATTEMPT_QUERY.where(Attempt.id == attempt_id)).first()
        if row is None or not _ordinary(row, token_version, now):
            return None
        if current_item is not None:
            form = cache.form(conn, row.form_id)
            if form is None or current_item not in form.by_id:
                return None
    return timer_view(_detached(row), now), AttemptRef(row.id, row.session_id, row.form_id)


def ticket_login(engine: Engine, cache: DeliveryCache, ticket: str, *, secret_key: str, lang: str,
                 now: datetime) -> tuple[dict[str, Any], AttemptRef] | None:
    """Sign-in's body (the attempt document and a token) for a ticket whose attempt needs no change, or None.

    One statement. The body is what `GET /attempt` answers, so the player needs no second
    read after signing in. None for the full path: an unknown ticket (which the caller
    counts as a failure), a locked or due attempt, a session closed before the start.
    """
    ticket = normalize_ticket(ticket)
    if not ticket:
        return None
    found = _read_document(engine, cache, Attempt.ticket == ticket, lang=lang, now=now)
    if found is None:
        return None
    body, row, ref = found
    if not _ordinary(row, None, now) or (row.status == "not_started" and row.session_status == "closed"):
        return None
    body.update({"token": issue_token(secret_key, row.id, row.token_version), "token_type": "Bearer"})
    return body, ref


# What a one-statement start or submit returns: the attempt's and its session's clock fields (timer_view).
_RETURNING_CLOCK = """
RETURNING attempts.id, attempts.session_id, attempts.status, attempts.token_version, attempts.locked,
    attempts.started_at, attempts.deadline_at, attempts.submitted_at, attempts.submit_reason,
    attempts.extra_seconds, attempts.shuffle_seed, s.status AS session_status, s.paused_at,
    s.time_limit_minutes, s.form_id"""
_CLOCK_TYPES = {"started_at": UTCDateTime(), "deadline_at": UTCDateTime(), "submitted_at": UTCDateTime(),
                "paused_at": UTCDateTime()}

_PG_START = text("""
UPDATE attempts SET status = 'in_progress', started_at = :now, last_contact_at = :now,
    deadline_at = :now + make_interval(mins => s.time_limit_minutes, secs => attempts.extra_seconds)
FROM test_sessions s, students st, classes c
WHERE attempts.id = :attempt_id AND s.id = attempts.session_id AND attempts.token_version = :token_version
  AND NOT attempts.locked AND attempts.status = 'not_started' AND s.status <> 'closed'
  AND st.id = attempts.student_id AND c.id = s.class_id
""" + _RETURNING_CLOCK + """, st.family_name, st.given_name, st.seat_number, c.name AS class_name,
    c.school_id
""").bindparams(_now).columns(**_CLOCK_TYPES)


def start_fast(engine: Engine, cache: DeliveryCache, attempt_id: int, token_version: int, *, lang: str,
               now: datetime) -> tuple[dict[str, Any], AttemptRef] | None:
    """Start a signed-in attempt's clock in one statement (PostgreSQL); answers with the attempt document.

    The body carries the items (the clock runs now), so the player needs no read after
    the start. None for the full path: a second start (idempotent), a closed session, a
    locked attempt or revoked token, a form not frozen, and SQLite.
    """
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        row = _autocommit(conn, _PG_START, attempt_id, token_version, now)
        if row is None:
            return None
        form = cache.form(conn, row.form_id)
        school = cache.school_name(conn, row.school_id)
    if form is None:  # started all the same (committed): the full path answers the repeated start
        return None
    # Saves are refused before the start, so a just-started attempt has no stored answer.
    body = _document(cache, form, row, school, [], lang=lang, now=now)
    return body, AttemptRef(row.id, row.session_id, row.form_id)


_PG_SUBMIT = text("""
UPDATE attempts SET status = 'submitted', submit_reason = 'student', submitted_at = :now
FROM test_sessions s
WHERE attempts.id = :attempt_id AND s.id = attempts.session_id AND attempts.token_version = :token_version
  AND NOT attempts.locked AND attempts.status = 'in_progress' AND s.status = 'open' AND attempts.deadline_at > :now
""" + _RETURNING_CLOCK).bindparams(_now).columns(**_CLOCK_TYPES)


def submit_fast(engine: Engine, attempt_id: int, token_version: int, *,
                now: datetime) -> tuple[dict[str, Any], AttemptRef] | None:
    """Submit a running, on-time attempt of an open session in one statement (PostgreSQL); None for the full path.

    The full path answers every other case exactly: a repeated submit (idempotent), a paused
    session (the clock is stopped, so the deadline moves), a due deadline (submitted as
    `deadline`), a locked attempt or revoked token, not started, and SQLite.
    """
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        row = _autocommit(conn, _PG_SUBMIT, attempt_id, token_version, now)
    if row is None:
        return None
    return timer_view(_detached(row), now), AttemptRef(row.id, row.session_id, row.form_id)


def _autocommit(conn: Connection, statement: Any, attempt_id: int, token_version: int, now: datetime) -> Any:
    """Run a one-statement change of an attempt as its own transaction (committed when it answers); its row or None."""
    conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn.execute(statement, {"attempt_id": attempt_id, "token_version": token_version, "now": now}).first()
