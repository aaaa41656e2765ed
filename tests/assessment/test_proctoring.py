"""The server-authoritative timer and the proctor's actions (each audited)."""
from datetime import timedelta

import pytest

from assessment.answers import save_answer
from assessment.attempts import (
    attempt_for_token,
    effective_deadline,
    expire_if_due,
    iso,
    login_with_ticket,
    remaining_seconds,
    start_attempt,
    submit_attempt,
    sweep_expired,
)
from assessment.db import utcnow
from assessment.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from assessment.models import Attempt, AuditEntry, ItemRecord, User
from assessment.presence import Presence
from assessment.proctoring import (
    check_access,
    close_session,
    extend_time,
    live_status,
    lock_attempt,
    pause_session,
    resume_session,
    unlock_attempt,
)

from .factories import correct_response, login_and_start, open_all_types_session

SECRET = "test-secret-key-0123456789"


def test_login_starts_no_clock_and_start_sets_the_deadline_once(db) -> None:  # type: ignore[no-untyped-def]
    test_session, attempts, _ = open_all_types_session(db, minutes=35)
    t0 = utcnow()
    first = login_with_ticket(db, attempts[0].ticket.lower(), secret_key=SECRET, now=t0)
    db.commit()
    attempt = first.attempt
    assert (attempt.status, attempt.started_at, attempt.deadline_at) == ("not_started", None, None)
    # reading the instructions for an hour costs nothing: no deadline, no expiry, the whole time left
    later = t0 + timedelta(hours=1)
    assert not expire_if_due(attempt, later) and sweep_expired(db, later) == 0
    assert db.query(AuditEntry).filter_by(action="attempts.sweep").count() == 0  # nothing swept, nothing logged
    assert remaining_seconds(attempt, test_session, later) == 35 * 60
    assert effective_deadline(attempt, test_session, later) is None
    started = t0 + timedelta(minutes=3)
    assert start_attempt(attempt, now=started) is attempt
    db.commit()
    assert (attempt.status, attempt.started_at) == ("in_progress", started)
    assert attempt.deadline_at == started + timedelta(minutes=35)
    # a second login (another device) and a second start move nothing
    second = login_with_ticket(db, attempts[0].ticket, secret_key=SECRET, now=t0 + timedelta(minutes=5))
    start_attempt(second.attempt, now=t0 + timedelta(minutes=6))
    assert second.attempt.started_at == started and second.attempt.deadline_at == started + timedelta(minutes=35)
    assert attempt_for_token(db, first.token, secret_key=SECRET).id == attempt.id  # both devices' tokens work
    with pytest.raises(Unauthorized):
        login_with_ticket(db, "ZZZZ-ZZZZ", secret_key=SECRET)


def test_pause_stops_the_clock_and_resume_moves_deadlines(db) -> None:  # type: ignore[no-untyped-def]
    test_session, attempts, _ = open_all_types_session(db, n_students=3, minutes=30)
    t0 = utcnow() - timedelta(minutes=20)
    a = login_and_start(db, attempts[0].ticket, secret_key=SECRET, now=t0).attempt
    c = login_with_ticket(db, attempts[2].ticket, secret_key=SECRET, now=t0).attempt  # signed in, not started
    db.commit()
    pause_at = t0 + timedelta(minutes=10)
    pause_session(db, test_session.id, actor="proctor1", now=pause_at)
    assert c.status == "not_started" and c.deadline_at is None  # the pause gives no clock to who has not started
    # a student who starts during the pause starts with the clock stopped: no time is lost
    b = login_and_start(db, attempts[1].ticket, secret_key=SECRET, now=pause_at + timedelta(minutes=2)).attempt
    start_attempt(c, now=pause_at + timedelta(minutes=2))
    db.commit()
    assert b.status == c.status == "in_progress" and b.deadline_at == pause_at + timedelta(minutes=32)
    during = pause_at + timedelta(minutes=5)
    assert remaining_seconds(a, test_session, during) == 20 * 60
    assert remaining_seconds(b, test_session, during) == remaining_seconds(c, test_session, during) == 30 * 60
    assert effective_deadline(b, test_session, during) == during + timedelta(minutes=30)
    assert not expire_if_due(a, pause_at + timedelta(hours=2))  # no expiry while paused
    resume_at = pause_at + timedelta(minutes=7)
    resume_session(db, test_session.id, actor="proctor1", now=resume_at)
    db.commit()
    assert a.deadline_at == t0 + timedelta(minutes=37)
    assert b.deadline_at == c.deadline_at == pause_at + timedelta(minutes=2 + 30 + 5) == resume_at + timedelta(minutes=30)
    assert effective_deadline(a, test_session, resume_at) == a.deadline_at
    actions = [e.action for e in db.query(AuditEntry).order_by(AuditEntry.id)]
    assert "session.pause" in actions and "session.resume" in actions
    with pytest.raises(Conflict):
        resume_session(db, test_session.id, actor="proctor1")


def test_expiry_sweep_extend_and_reopen(db) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = open_all_types_session(db, n_students=3, minutes=10)
    t0 = utcnow() - timedelta(minutes=11)
    for att in attempts[:2]:
        login_and_start(db, att.ticket, secret_key=SECRET, now=t0)
    login_with_ticket(db, attempts[2].ticket, secret_key=SECRET, now=t0)  # signed in as long ago, never started
    db.commit()
    assert sweep_expired(db, actor="cron") == 2
    db.commit()
    sweeps = db.query(AuditEntry).filter_by(action="attempts.sweep").all()
    assert [(e.actor, sorted(e.detail["attempt_ids"])) for e in sweeps] == [
        ("cron", sorted(a.id for a in attempts[:2]))]
    assert db.get(Attempt, attempts[2].id).status == "not_started"
    a = db.get(Attempt, attempts[0].id)
    assert a.status == "submitted" and a.submit_reason == "deadline" and a.submitted_at == a.deadline_at
    extend_time(db, a.id, 5 * 60, actor="proctor1")
    db.commit()
    assert a.status == "in_progress" and a.extra_seconds == 300 and a.submit_reason is None
    item = items["single_choice"]
    assert save_answer(db, a.id, item.id, 1, correct_response(item)).changed
    with pytest.raises(InvalidInput):
        extend_time(db, attempts[1].id, 0, actor="p")
    with pytest.raises(NotFound):
        extend_time(db, 99999, 60, actor="p")
    submit_attempt(a)
    with pytest.raises(Conflict):
        extend_time(db, a.id, 60, actor="p")  # a student's own submit is final
    detail = db.query(AuditEntry).filter_by(action="attempt.extend").one().detail
    assert detail["reopened"] is True and detail["seconds"] == 300


def test_extend_that_leaves_no_time_changes_nothing(db) -> None:  # type: ignore[no-untyped-def]
    """Time ran out 10 min ago: 9 more minutes would still end in the past, so the record stays as it was."""
    _, attempts, items = open_all_types_session(db, n_students=1, minutes=35)
    now = utcnow()
    login_and_start(db, attempts[0].ticket, secret_key=SECRET, now=now - timedelta(minutes=45))
    db.commit()
    a = db.get(Attempt, attempts[0].id)
    deadline = a.deadline_at
    with pytest.raises(Conflict) as exc:
        extend_time(db, a.id, 9 * 60, actor="p", now=now)
    assert exc.value.code == "no_time_left" and "at least 601 s" in exc.value.message
    assert (a.status, a.submit_reason, a.deadline_at, a.extra_seconds) == ("submitted", "deadline", deadline, 0)
    assert db.query(AuditEntry).filter_by(action="attempt.extend").count() == 0
    # the late-delivery window did not move: an answer claimed 8 minutes after the deadline stays refused
    item = items["single_choice"]
    with pytest.raises(Conflict) as late:
        save_answer(db, a.id, item.id, 1, correct_response(item), answered_at=now - timedelta(minutes=2), now=now)
    assert late.value.code == "time_up"
    extend_time(db, a.id, 11 * 60, actor="p", now=now)  # enough: re-opened with one minute left
    assert a.status == "in_progress" and a.deadline_at == deadline + timedelta(minutes=11)
    assert remaining_seconds(a, a.session, now) == 60


def test_extend_during_a_pause_counts_the_stopped_clock(db) -> None:  # type: ignore[no-untyped-def]
    """Ran out 1 min before the pause; +120 s during the pause leaves 60 s on the stopped clock."""
    test_session, attempts, _ = open_all_types_session(db, n_students=1, minutes=35)
    now = utcnow()
    login_and_start(db, attempts[0].ticket, secret_key=SECRET, now=now - timedelta(minutes=40))
    db.commit()
    a = db.get(Attempt, attempts[0].id)
    deadline = a.deadline_at  # now - 5 min
    assert expire_if_due(a, now - timedelta(minutes=4, seconds=30))
    pause_session(db, test_session.id, actor="p", now=now - timedelta(minutes=4))
    extend_time(db, a.id, 120, actor="p", now=now)
    assert a.status == "in_progress" and a.submit_reason is None and a.deadline_at == deadline + timedelta(seconds=120)
    assert remaining_seconds(a, test_session, now) == 60
    resume_session(db, test_session.id, actor="p", now=now)
    assert a.status == "in_progress" and remaining_seconds(a, test_session, now) == 60


def test_extend_before_start_counts_at_the_start(db) -> None:  # type: ignore[no-untyped-def]
    test_session, attempts, _ = open_all_types_session(db, minutes=30)
    extend_time(db, attempts[0].id, 600, actor="p")
    t0 = utcnow()
    a = login_with_ticket(db, attempts[0].ticket, secret_key=SECRET, now=t0).attempt
    assert a.deadline_at is None and remaining_seconds(a, test_session, t0) == 40 * 60
    extend_time(db, attempts[0].id, 120, actor="p")  # signed in, not started: still counts at the start
    started = t0 + timedelta(minutes=4)
    start_attempt(a, now=started)
    assert a.deadline_at == started + timedelta(minutes=42)
    assert remaining_seconds(a, test_session, started) == 42 * 60


def test_lock_revokes_tokens_and_unlock_lets_the_student_resume(db) -> None:  # type: ignore[no-untyped-def]
    _, attempts, _ = open_all_types_session(db)
    token = login_with_ticket(db, attempts[0].ticket, secret_key=SECRET).token
    lock_attempt(db, attempts[0].id, actor="proctor1", ip="10.0.0.1")
    db.commit()
    with pytest.raises(Unauthorized):
        attempt_for_token(db, token, secret_key=SECRET)
    with pytest.raises(Forbidden):
        login_with_ticket(db, attempts[0].ticket, secret_key=SECRET)
    with pytest.raises(Forbidden) as exc:
        start_attempt(db.get(Attempt, attempts[0].id))
    assert exc.value.code == "locked" and db.get(Attempt, attempts[0].id).deadline_at is None
    unlock_attempt(db, attempts[0].id, actor="proctor1")
    new = login_and_start(db, attempts[0].ticket, secret_key=SECRET)
    assert attempt_for_token(db, new.token, secret_key=SECRET).id == attempts[0].id
    assert new.attempt.status == "in_progress"
    entry = db.query(AuditEntry).filter_by(action="attempt.lock").one()
    assert entry.actor == "proctor1" and entry.ip == "10.0.0.1"


def test_close_submits_open_attempts_and_refuses_new_sign_ins(db) -> None:  # type: ignore[no-untyped-def]
    test_session, attempts, _ = open_all_types_session(db, n_students=4)
    login_and_start(db, attempts[0].ticket, secret_key=SECRET)
    submit_attempt(login_and_start(db, attempts[1].ticket, secret_key=SECRET).attempt)
    waiting = login_with_ticket(db, attempts[3].ticket, secret_key=SECRET).attempt  # signed in, not started
    db.commit()
    close_session(db, test_session.id, actor="proctor1")
    db.commit()
    assert [a.submit_reason for a in sorted(test_session.attempts, key=lambda a: a.id)] == [
        "session_closed", "student", None, None]
    with pytest.raises(Conflict) as exc:
        login_with_ticket(db, attempts[2].ticket, secret_key=SECRET)
    assert exc.value.code == "session_closed"
    with pytest.raises(Conflict) as exc:
        start_attempt(waiting)
    assert exc.value.code == "session_closed" and waiting.status == "not_started" and waiting.deadline_at is None
    # start is idempotent on an attempt that is over: its final state, nothing moves
    done = start_attempt(db.get(Attempt, attempts[0].id))
    assert (done.status, done.submit_reason) == ("submitted", "session_closed")
    assert close_session(db, test_session.id, actor="proctor1").status == "closed"  # idempotent


def test_submit_is_idempotent(db) -> None:  # type: ignore[no-untyped-def]
    _, attempts, _ = open_all_types_session(db)
    with pytest.raises(Conflict):
        submit_attempt(db.get(Attempt, attempts[0].id))
    a = login_with_ticket(db, attempts[0].ticket, secret_key=SECRET).attempt
    with pytest.raises(Conflict):
        submit_attempt(a)  # signed in but not started
    start_attempt(a)
    first = submit_attempt(a).submitted_at
    assert submit_attempt(a, now=utcnow() + timedelta(minutes=1)).submitted_at == first


def test_live_status_uses_redis_then_sql(db, app) -> None:  # type: ignore[no-untyped-def]
    test_session, attempts, items = open_all_types_session(db, n_students=3)
    a = login_and_start(db, attempts[0].ticket, secret_key=SECRET).attempt
    b = login_with_ticket(db, attempts[1].ticket, secret_key=SECRET).attempt  # signed in, reading the instructions
    item = items["ordering"]
    save_answer(db, a.id, item.id, 1, correct_response(item))
    db.commit()
    # SQL alone knows who started, not who merely signed in
    status = live_status(db, test_session.id, presence=None)
    rows = status["students"]
    assert status["counts"] == {"students": 3, "joined": 1, "in_progress": 1, "done": 0, "idle": 0, "locked": 0}
    assert (rows[0]["answered"], rows[0]["current_item"], rows[0]["n_items"]) == (1, item.id, 6)
    assert rows[0]["last_saved"] and rows[0]["started"] is True and rows[1]["joined"] is False
    assert rows[2]["joined"] is False and rows[2]["last_seen"] is None
    # Redis presence (every login and heartbeat records it): the signed-in student has joined, not started
    svc = app.extensions["ctcensus"]
    presence = Presence(svc.redis, svc.redis_prefix)
    presence.touch(test_session.id, a.id, utcnow() - timedelta(minutes=5), items["grid_path"].id)
    presence.touch(test_session.id, b.id, utcnow() - timedelta(minutes=5))
    status = live_status(db, test_session.id, presence)
    rows = status["students"]
    # last seen 5 minutes ago, but an answer was saved just now: active, not idle
    assert rows[0]["current_item"] == items["grid_path"].id and rows[0]["idle"] is False
    assert (rows[1]["joined"], rows[1]["started"], rows[1]["status"]) == (True, False, "not_started")
    assert rows[1]["idle"] is False and rows[1]["remaining_seconds"] == 35 * 60 and rows[1]["deadline_at"] is None
    assert status["counts"] == {"students": 3, "joined": 2, "in_progress": 1, "done": 0, "idle": 0, "locked": 0}


def test_heartbeats_show_connected_but_only_activity_keeps_a_student_from_idle(db, app) -> None:  # type: ignore[no-untyped-def]
    """A client that sends heartbeats on the same item but holds back every save turns idle."""
    test_session, attempts, items = open_all_types_session(db, n_students=1)
    t0 = utcnow() - timedelta(minutes=10)
    a = login_and_start(db, attempts[0].ticket, secret_key=SECRET, now=t0).attempt
    db.commit()
    svc = app.extensions["ctcensus"]
    presence = Presence(svc.redis, svc.redis_prefix)
    presence.touch(test_session.id, a.id, t0, active=True)  # the start
    presence.touch(test_session.id, a.id, t0 + timedelta(minutes=1), items["matching"].id)  # went to an item
    for minute in range(2, 10):  # then only heartbeats on the same item
        presence.touch(test_session.id, a.id, t0 + timedelta(minutes=minute), items["matching"].id)
    now = t0 + timedelta(minutes=10)
    row = live_status(db, test_session.id, presence, now=now)["students"][0]
    assert row["last_seen"] == iso(t0 + timedelta(minutes=9))  # connected a minute ago
    assert row["last_active"] == iso(t0 + timedelta(minutes=1))
    assert row["idle"] is True and row["idle_seconds"] == 9 * 60
    # moving to another item is activity
    presence.touch(test_session.id, a.id, now, items["grid_path"].id)
    row = live_status(db, test_session.id, presence, now=now + timedelta(seconds=30))["students"][0]
    assert row["idle"] is False and row["idle_seconds"] == 30 and row["current_item"] == items["grid_path"].id
    # so is a saved answer, even without presence (Redis down: SQL alone)
    item = items["ordering"]
    save_answer(db, a.id, item.id, 1, correct_response(item), now=now + timedelta(minutes=5))
    row = live_status(db, test_session.id, None, now=now + timedelta(minutes=5, seconds=10))["students"][0]
    assert row["idle"] is False and row["idle_seconds"] == 10


def test_access_is_limited_to_the_school(db) -> None:  # type: ignore[no-untyped-def]
    test_session, _, _ = open_all_types_session(db)
    school_id = test_session.school_class.school_id
    check_access(User(username="a", role="admin", active=True), test_session)
    check_access(User(username="p", role="proctor", school_id=school_id, active=True), test_session)
    for user in (None, User(username="q", role="proctor", school_id=school_id + 1, active=True),
                 User(username="b", role="bureau", active=True),
                 User(username="r", role="researcher", active=True)):
        with pytest.raises(Forbidden):
            check_access(user, test_session)


def test_live_status_counts_answered_items_and_the_last_saved_in_the_database(db) -> None:  # type: ignore[no-untyped-def]
    """The poll's per-attempt summary comes from SQL: a cleared answer (null) or {} is not answered."""
    from assessment.models import Answer

    test_session, attempts, items = open_all_types_session(db, n_students=2)
    a = login_and_start(db, attempts[0].ticket, secret_key=SECRET, now=utcnow() - timedelta(minutes=5)).attempt
    save_answer(db, a.id, items["single_choice"].id, 1, correct_response(items["single_choice"]))
    save_answer(db, a.id, items["ordering"].id, 1, correct_response(items["ordering"]))
    save_answer(db, a.id, items["ordering"].id, 2, None)  # cleared
    save_answer(db, a.id, items["matching"].id, 1, correct_response(items["matching"]))
    db.commit()
    last = db.query(Answer).filter_by(attempt_id=a.id).order_by(Answer.saved_at.desc()).first()
    status = live_status(db, test_session.id, presence=None)
    row = next(r for r in status["students"] if r["attempt_id"] == a.id)
    other = next(r for r in status["students"] if r["attempt_id"] != a.id)
    assert row["answered"] == 2 and row["n_items"] == 6
    assert row["current_item"] == items["matching"].id == db.get(ItemRecord, last.item_pk).item_id
    assert (other["answered"], other["current_item"], other["last_saved"]) == (0, None, None)
