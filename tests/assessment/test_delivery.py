"""The hot path's one-statement save: stores exactly what the full path stores, and leaves every other case to it."""
import random
import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select

from assessment.answers import save_answer
from assessment.attempts import login_with_ticket, submit_attempt
from assessment.db import make_engine, make_session_factory, utcnow
from assessment.delivery import DeliveryCache, save_answer_fast
from assessment.errors import Conflict
from assessment.models import Answer, Attempt
from assessment.proctoring import (
    close_session,
    extend_time,
    lock_attempt,
    pause_session,
    resume_session,
    unlock_attempt,
)

from .factories import (
    TYPES,
    correct_response,
    login_and_start,
    malformed_response,
    open_all_types_session,
    save_concurrently,
)

SECRET = "test-secret-key-0123456789"




def _fast(db, attempt, item, seq, response, *, cache=None, version=None, answered_at=None, now=None):  # type: ignore[no-untyped-def]
    attempt_id, version = attempt.id, attempt.token_version if version is None else version
    db.commit()  # SQLite: end the test's read transaction (it holds the write lock)
    db.expire_all()
    saved = save_answer_fast(db.get_bind(), cache or DeliveryCache(), attempt_id, version, item.id, seq, response,
                             answered_at=answered_at, now=now or utcnow())
    db.expire_all()
    return saved


def _rows(db, attempt_id):  # type: ignore[no-untyped-def]
    db.expire_all()
    rows = {a.item_pk: (a.seq, a.response, a.score, a.answered_at, a.saved_at)
            for a in db.scalars(select(Answer).where(Answer.attempt_id == attempt_id))}
    db.commit()
    return rows


def test_a_fast_save_stores_what_the_full_path_stores(db) -> None:  # type: ignore[no-untyped-def]
    """Same normal form, score, clamped answered_at and last_contact_at, for every item type."""
    _, attempts, items = open_all_types_session(db, n_students=2)
    now = utcnow().replace(microsecond=0)
    for a in attempts:
        login_and_start(db, a.ticket, secret_key=SECRET, now=now - timedelta(minutes=5))
    db.commit()
    fast, full = attempts
    cache = DeliveryCache()
    for seq, kind in enumerate(TYPES, start=1):
        item = items[kind]
        at = now + timedelta(seconds=seq)
        claim = at - timedelta(days=1) if seq % 2 else at - timedelta(seconds=30)  # clamped to the start / kept
        saved = _fast(db, fast, item, seq, correct_response(item), cache=cache, answered_at=claim, now=at)
        assert saved is not None and saved[0].seq == seq and saved[0].changed
        assert saved[1].session_id == fast.session_id
        save_answer(db, full.id, item.id, seq, correct_response(item), answered_at=claim, now=at)
        db.commit()
    assert sorted(_rows(db, fast.id).values()) == sorted(_rows(db, full.id).values())
    db.expire_all()
    assert db.get(Attempt, fast.id).last_contact_at == db.get(Attempt, full.id).last_contact_at == now + timedelta(seconds=6)
    db.commit()
    # a cleared answer is a change like any other
    assert _fast(db, fast, items["single_choice"], 7, None, cache=cache) is not None
    row = _rows(db, fast.id)
    assert any(seq == 7 and response is None and score == 0 for seq, response, score, _, _ in row.values())


def test_every_other_case_is_left_to_the_full_path_and_changes_nothing(db, started) -> None:  # type: ignore[no-untyped-def]
    test_session, attempt, items = started
    item = items["multiple_response"]
    good = correct_response(item)
    assert _fast(db, attempt, item, 5, good) is not None
    before = _rows(db, attempt.id)
    contact = db.get(Attempt, attempt.id).last_contact_at
    db.commit()

    def unchanged() -> None:
        assert _rows(db, attempt.id) == before
        assert db.get(Attempt, attempt.id).last_contact_at == contact
        db.commit()

    # a replay, a stale seq, a bad seq, a malformed response, an item not on the form, a revoked token
    for seq, response, target, version in ((5, good, item, None), (3, good, item, None), (0, good, item, None),
                                           (True, good, item, None), ("6", good, item, None),
                                           (6, malformed_response(item), item, None),
                                           (6, good, SimpleNamespace(id="not-on-form"), None),
                                           (6, good, item, attempt.token_version + 1)):
        assert _fast(db, attempt, target, seq, response, version=version) is None
        unchanged()
    # paused (then resumed), locked, past the deadline, submitted, closed
    pause_session(db, test_session.id, actor="t")
    db.commit()
    assert _fast(db, attempt, item, 6, good) is None
    unchanged()
    resume_session(db, test_session.id, actor="t")
    lock_attempt(db, attempt.id, actor="t")
    db.commit()
    assert _fast(db, attempt, item, 6, good, version=db.get(Attempt, attempt.id).token_version) is None
    unchanged()
    unlock_attempt(db, attempt.id, actor="t")
    db.commit()
    version = db.get(Attempt, attempt.id).token_version
    db.commit()
    deadline = db.get(Attempt, attempt.id).deadline_at
    db.commit()
    assert _fast(db, attempt, item, 6, good, version=version, now=deadline) is None  # the deadline itself is late
    unchanged()
    assert _fast(db, attempt, item, 6, good, version=version) is not None  # open again: stored
    before = _rows(db, attempt.id)
    contact = db.get(Attempt, attempt.id).last_contact_at
    submit_attempt(db.get(Attempt, attempt.id))
    db.commit()
    assert _fast(db, attempt, item, 7, good, version=version) is None
    unchanged()
    close_session(db, test_session.id, actor="t")
    db.commit()
    assert _fast(db, attempt, item, 8, good, version=version) is None
    unchanged()


def test_not_started_and_extended_attempts(db) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = open_all_types_session(db, n_students=1)
    item = items["ordering"]
    attempt = login_with_ticket(db, attempts[0].ticket, secret_key=SECRET).attempt
    db.commit()
    assert _fast(db, attempt, item, 1, correct_response(item)) is None  # signed in, not started
    assert _rows(db, attempt.id) == {}
    login_and_start(db, attempts[0].ticket, secret_key=SECRET, now=utcnow() - timedelta(minutes=36))
    db.commit()
    assert _fast(db, attempt, item, 1, correct_response(item)) is None  # time is up
    with pytest.raises(Conflict):
        save_answer(db, attempt.id, item.id, 1, correct_response(item))
    db.rollback()
    extend_time(db, attempt.id, 600, actor="t")  # re-opened with time left
    db.commit()
    assert _fast(db, attempt, item, 1, correct_response(item)) is not None


def test_a_save_is_one_statement_on_postgresql(db, started) -> None:  # type: ignore[no-untyped-def]
    """Once an app has seen the attempt and its form: one statement (PostgreSQL) or one transaction (SQLite)."""
    _, attempt, items = started
    engine = db.get_bind()
    cache = DeliveryCache()
    assert _fast(db, attempt, items["grid_path"], 1, correct_response(items["grid_path"]), cache=cache)
    attempt = SimpleNamespace(id=attempt.id, token_version=attempt.token_version)  # no ORM loads below
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for seq, kind in enumerate(TYPES, start=2):
            assert _fast(db, attempt, items[kind], seq, correct_response(items[kind]), cache=cache)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    saves = [s for s in statements if "answers" in s or "BEGIN" in s or "attempts" in s]
    if engine.dialect.name == "postgresql":
        assert len(saves) == len(TYPES), saves
    else:  # BEGIN IMMEDIATE, the check, the upsert and last_contact_at
        assert len(saves) == 4 * len(TYPES), saves


def test_concurrent_fast_and_full_saves_keep_the_newest(db, started) -> None:  # type: ignore[no-untyped-def]
    """Two engines (two workers), threads, seqs in random order, fast path with the full path behind it."""
    _, attempt, items = started
    url = db.get_bind().url.render_as_string(hide_password=False)
    db.commit()
    caches = {}
    targets = [items["single_choice"], items["matching"]]
    jobs = [(t, seq) for t in targets for seq in range(1, 41)]
    random.Random(7).shuffle(jobs)

    def save(engine, item, seq) -> None:  # type: ignore[no-untyped-def]
        response = correct_response(item) if seq % 2 else None
        cache = caches.setdefault(id(engine), DeliveryCache())  # one per worker
        if save_answer_fast(engine, cache, attempt.id, 0, item.id, seq, response, answered_at=None,
                            now=utcnow()) is None:
            with make_session_factory(engine)() as session:
                ack = save_answer(session, attempt.id, item.id, seq, response)
                session.commit()
                assert ack.seq >= seq

    errors = save_concurrently(url, save, jobs)
    assert not errors, errors[:3]
    assert sorted(seq for seq, *_ in _rows(db, attempt.id).values()) == [40, 40]


def test_no_save_is_acknowledged_after_the_submit(db, started) -> None:  # type: ignore[no-untyped-def]
    """Saves racing a submit: every acknowledged one was stored before the submit (none after it)."""
    _, attempt, items = started
    url = db.get_bind().url.render_as_string(hide_password=False)
    db.commit()
    engine = make_engine(url)
    cache = DeliveryCache()
    acked: list[int] = []
    item = items["short_answer"]
    counter = iter(range(1, 10_000))
    lock = threading.Lock()
    stop = threading.Event()

    def saver() -> None:
        while not stop.is_set():
            with lock:
                seq = next(counter)
            if save_answer_fast(engine, cache, attempt.id, 0, item.id, seq, {"text": str(seq)},
                                answered_at=None, now=utcnow()) is not None:
                with lock:
                    acked.append(seq)

    threads = [threading.Thread(target=saver) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        while len(acked) < 5:
            stop.wait(0.01)
        with make_session_factory(engine)() as session:
            row = session.get(Attempt, attempt.id, with_for_update=True)
            submit_attempt(row)
            submitted_at = row.submitted_at
            session.commit()
        stop.wait(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        engine.dispose()
    ((seq, response, _, _, saved_at),) = _rows(db, attempt.id).values()
    assert seq == max(acked) and response == {"text": str(seq)}
    assert saved_at <= submitted_at


@pytest.mark.parametrize("lang", ["zh-TW", "en"])
def test_prerendered_views_equal_the_student_view_for_every_item_and_seed(lang) -> None:  # type: ignore[no-untyped-def]
    """A form's views rendered once per language, reordered per seed, are exactly Item.student_view's."""
    import json

    from assessment.delivery import DeliveredForm

    from .factories import starter_items

    items = tuple((position, 1000 + position, item) for position, item in enumerate(starter_items(), start=1))
    assert {item.type for _, _, item in items} == set(TYPES)
    form = DeliveredForm(1, items, {item.id: (pk, item) for _, pk, item in items})
    for seed in (None, 0, 1, 7, 113, 987654, 2**31 - 1):
        for _ in range(2):  # the second call reads the rendered views
            views = form.student_views(lang, seed)
            expected = [item.student_view(lang, seed=seed) | {"position": position} for position, _, item in items]
            assert json.dumps(views, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)


def _document(db, attempt, lang="zh-TW", now=None, cache=None):  # type: ignore[no-untyped-def]
    from assessment.delivery import attempt_document

    attempt_id, version = attempt.id, attempt.token_version
    db.commit()
    return attempt_document(db.get_bind(), cache or DeliveryCache(), attempt_id, version, lang=lang,
                            now=now or utcnow())


def test_the_attempt_document_equals_the_attempt_view(db) -> None:  # type: ignore[no-untyped-def]
    from assessment.attempts import attempt_view, start_attempt

    _, attempts, items = open_all_types_session(db, n_students=2, shuffle=True)
    cache = DeliveryCache()
    attempt = login_with_ticket(db, attempts[0].ticket, secret_key=SECRET).attempt
    db.commit()
    for stage in ("not_started", "in_progress", "answered", "submitted"):
        if stage == "in_progress":
            start_attempt(db.get(Attempt, attempt.id))
        if stage == "answered":
            for seq, kind in enumerate(TYPES, start=1):
                save_answer(db, attempt.id, items[kind].id, seq, correct_response(items[kind]) if seq % 3 else None)
        if stage == "submitted":
            submit_attempt(db.get(Attempt, attempt.id))
        db.commit()
        for lang in ("zh-TW", "en"):
            now = utcnow()
            body, ref = _document(db, db.get(Attempt, attempt.id), lang, now, cache)
            expected = attempt_view(db, db.get(Attempt, attempt.id), lang=lang, now=now)
            db.commit()
            assert body == expected, stage
            assert list(body) == list(expected) and (ref.attempt_id, ref.session_id) == (attempt.id, attempt.session_id)
    assert len(expected["items"]) == len(TYPES) and len(expected["answers"]) == len(TYPES)


def test_the_attempt_document_leaves_expiry_locks_and_revoked_tokens_to_the_full_path(db, started) -> None:  # type: ignore[no-untyped-def]
    _, attempt, _ = started
    assert _document(db, attempt) is not None
    deadline = db.get(Attempt, attempt.id).deadline_at
    db.commit()
    assert _document(db, attempt, now=deadline) is None  # due: the full path submits it
    assert db.get(Attempt, attempt.id).status == "in_progress"
    db.commit()
    stale = SimpleNamespace(id=attempt.id, token_version=attempt.token_version)
    lock_attempt(db, attempt.id, actor="t")
    db.commit()
    assert _document(db, stale) is None
    unlock_attempt(db, attempt.id, actor="t")
    db.commit()
    assert _document(db, stale) is None  # the token was revoked by the lock
    assert _document(db, db.get(Attempt, attempt.id)) is not None


def test_ticket_sign_in_reads_in_one_statement_and_leaves_the_rest_to_the_full_path(db) -> None:  # type: ignore[no-untyped-def]
    from assessment.attempts import attempt_view
    from assessment.delivery import ticket_login
    from assessment.tickets import read_token

    test_session, attempts, items = open_all_types_session(db, n_students=4)
    engine, cache = db.get_bind(), DeliveryCache()
    tickets = [a.ticket for a in attempts]
    db.commit()
    now = utcnow()

    def login(ticket: str, lang: str = "zh-TW"):  # type: ignore[no-untyped-def]
        return ticket_login(engine, cache, ticket, secret_key=SECRET, lang=lang, now=now)

    body, ref = login(tickets[0][:4].lower() + "-" + tickets[0][4:])
    full = login_with_ticket(db, tickets[0], secret_key=SECRET, now=now)
    # the sign-in answers with the attempt document (as GET /attempt) plus the token: no read after it
    expected = attempt_view(db, full.attempt, lang="zh-TW", now=now) | {"token": body["token"], "token_type": "Bearer"}
    db.commit()
    assert body == expected and list(body) == list(expected)
    assert body["items"] == [] and body["item_count"] == len(TYPES)  # not started: no item content
    assert read_token(SECRET, body["token"]).attempt_id == ref.attempt_id == attempts[0].id
    # a student signing in again on another device mid-test gets the items and every acknowledged answer
    resumed = login_and_start(db, tickets[3], secret_key=SECRET, now=now - timedelta(minutes=5))
    save_answer(db, resumed.attempt.id, items["single_choice"].id, 1, correct_response(items["single_choice"]))
    db.commit()
    again, _ = login(tickets[3], "en")
    expected = attempt_view(db, db.get(Attempt, resumed.attempt.id), lang="en", now=now)
    db.commit()
    assert {k: v for k, v in again.items() if k not in ("token", "token_type")} == expected
    assert len(again["items"]) == len(TYPES) and list(again["answers"]) == [items["single_choice"].id]
    assert login("ZZZZ-ZZZZ") is None  # unknown: the full path says 401
    assert login("no ticket") is None
    lock_attempt(db, attempts[1].id, actor="t")
    db.commit()
    assert login(tickets[1]) is None  # locked: 403 from the full path
    login_and_start(db, tickets[2], secret_key=SECRET, now=now - timedelta(minutes=40))
    db.commit()
    assert login(tickets[2]) is None  # due: the full path submits it
    close_session(db, test_session.id, actor="t")
    db.commit()
    assert login(tickets[0]) is None  # closed before the start


def test_the_first_start_is_one_statement_on_postgresql(db) -> None:  # type: ignore[no-untyped-def]
    from assessment.attempts import attempt_view
    from assessment.delivery import start_fast

    _, attempts, _ = open_all_types_session(db, n_students=2, shuffle=True)
    engine, cache = db.get_bind(), DeliveryCache()
    for a in attempts:
        login_with_ticket(db, a.ticket, secret_key=SECRET)
    extend_time(db, attempts[0].id, 90, actor="t")
    db.commit()
    now = utcnow()
    fast = start_fast(engine, cache, attempts[0].id, 0, lang="en", now=now)
    if engine.dialect.name != "postgresql":
        assert fast is None  # SQLite: the full path starts it
        return
    assert fast is not None
    body, ref = fast
    db.expire_all()
    stored = db.get(Attempt, attempts[0].id)
    assert (stored.status, stored.started_at, stored.last_contact_at) == ("in_progress", now, now)
    assert stored.deadline_at == now + timedelta(minutes=35, seconds=90)
    # the start answers with the attempt document, items included: the player reads nothing after it
    assert body == attempt_view(db, stored, lang="en", now=now) and ref.attempt_id == attempts[0].id
    assert len(body["items"]) == len(TYPES) and body["answers"] == {}
    db.commit()
    later = now + timedelta(seconds=5)
    assert start_fast(engine, cache, attempts[0].id, 0, lang="en", now=later) is None  # a second start: full path
    assert start_fast(engine, cache, attempts[1].id, 1, lang="en", now=now) is None  # another token version
    db.expire_all()
    assert db.get(Attempt, attempts[1].id).status == "not_started"


def test_a_submit_of_a_running_attempt_is_one_statement_on_postgresql(db) -> None:  # type: ignore[no-untyped-def]
    from assessment.attempts import timer_view
    from assessment.delivery import submit_fast

    test_session, attempts, _ = open_all_types_session(db, n_students=4)
    engine = db.get_bind()
    now = utcnow()
    for a in attempts:
        login_and_start(db, a.ticket, secret_key=SECRET, now=now - timedelta(minutes=5))
    lock_attempt(db, attempts[2].id, actor="t")
    db.commit()
    fast = submit_fast(engine, attempts[0].id, 0, now=now)
    if engine.dialect.name != "postgresql":
        assert fast is None  # SQLite: the full path submits
        return
    assert fast is not None
    body, ref = fast
    db.expire_all()
    stored = db.get(Attempt, attempts[0].id)
    assert (stored.status, stored.submit_reason, stored.submitted_at) == ("submitted", "student", now)
    assert body == timer_view(stored, now) and ref.attempt_id == attempts[0].id
    db.commit()
    assert submit_fast(engine, attempts[0].id, 0, now=now) is None  # a second submit: the full path (idempotent)
    assert submit_fast(engine, attempts[1].id, 1, now=now) is None  # another token version
    assert submit_fast(engine, attempts[2].id, 1, now=now) is None  # locked (the lock revoked the token, too)
    deadline = db.get(Attempt, attempts[3].id).deadline_at
    db.commit()
    assert submit_fast(engine, attempts[3].id, 0, now=deadline) is None  # due: the full path submits it as deadline
    pause_session(db, test_session.id, actor="t")
    db.commit()
    assert submit_fast(engine, attempts[1].id, 0, now=now) is None  # paused: the full path (the clock stopped)
    db.expire_all()
    assert [db.get(Attempt, a.id).status for a in attempts[1:]] == ["in_progress"] * 3


def test_a_heartbeat_reads_the_clock_in_one_statement(db, started) -> None:  # type: ignore[no-untyped-def]
    from assessment.attempts import timer_view
    from assessment.delivery import attempt_clock

    test_session, attempt, items = started
    engine, cache = db.get_bind(), DeliveryCache()
    attempt_id, version = attempt.id, attempt.token_version
    pause_session(db, test_session.id, actor="t", now=utcnow() - timedelta(seconds=30))
    db.commit()
    now = utcnow()
    body, ref = attempt_clock(engine, cache, attempt_id, version, items["matching"].id, now=now)
    assert body == timer_view(db.get(Attempt, attempt_id), now) and body["paused"] is True
    db.commit()
    assert ref.session_id == test_session.id
    assert attempt_clock(engine, cache, attempt_id, version, None, now=now) is not None
    assert attempt_clock(engine, cache, attempt_id, version, "not-on-this-form", now=now) is None  # 422: full path
    assert attempt_clock(engine, cache, attempt_id, version + 1, None, now=now) is None  # revoked: 401
    resume_session(db, test_session.id, actor="t")
    db.commit()
    deadline = db.get(Attempt, attempt_id).deadline_at
    db.commit()
    assert attempt_clock(engine, cache, attempt_id, version, None, now=deadline) is None  # due: full path submits
