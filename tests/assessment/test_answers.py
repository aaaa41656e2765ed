"""The answer protocol: seq ordering, validation, open/closed attempts, the late rule, concurrency."""
import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from assessment.answers import LATE_GRACE, save_answer
from assessment.attempts import expire_if_due, login_with_ticket, start_attempt
from assessment.db import make_session_factory, utcnow
from assessment.errors import Conflict, InvalidInput, NotFound, Unprocessable
from assessment.models import Answer, Attempt
from assessment.proctoring import pause_session

from .factories import (
    TYPES,
    correct_response,
    malformed_response,
    open_all_types_session,
    save_concurrently,
)

SECRET = "test-secret-key-0123456789"




def _stored(db, attempt_id):  # type: ignore[no-untyped-def]
    db.expire_all()
    return {a.item_pk: a for a in db.scalars(select(Answer).where(Answer.attempt_id == attempt_id))}


def test_every_type_scores_the_key_and_stores_the_normal_form(db, started) -> None:  # type: ignore[no-untyped-def]
    _, attempt, items = started
    for seq, kind in enumerate(TYPES, start=1):
        ack = save_answer(db, attempt.id, items[kind].id, seq, correct_response(items[kind]))
        db.commit()
        assert (ack.item_id, ack.seq, ack.changed) == (items[kind].id, seq, True)
    stored = _stored(db, attempt.id)
    assert len(stored) == 6
    assert all(a.score == items[t].max_score for a, t in zip(sorted(stored.values(), key=lambda a: a.seq), TYPES))


def test_duplicate_stale_and_out_of_order_seqs(db, started) -> None:  # type: ignore[no-untyped-def]
    _, attempt, items = started
    item = items["single_choice"]
    wrong = next(o for o in item.option_ids if o != item.key)
    assert save_answer(db, attempt.id, item.id, 5, {"choice": item.key}).changed
    db.commit()
    # duplicate (a replay of an acknowledged save): same ack, nothing changes
    replay = save_answer(db, attempt.id, item.id, 5, {"choice": wrong})
    assert (replay.seq, replay.changed) == (5, False)
    # stale (older seq arriving late): acknowledged with the newer stored seq, nothing changes
    stale = save_answer(db, attempt.id, item.id, 3, {"choice": wrong})
    assert (stale.seq, stale.changed) == (5, False)
    db.commit()
    (row,) = _stored(db, attempt.id).values()
    assert (row.seq, row.response, row.score) == (5, {"choice": item.key}, 1)
    # out of order: 9 arrives before 7 and 8; 9 wins
    for seq, choice in ((9, wrong), (7, item.key), (8, item.key)):
        save_answer(db, attempt.id, item.id, seq, {"choice": choice})
        db.commit()
    (row,) = _stored(db, attempt.id).values()
    assert (row.seq, row.response, row.score) == (9, {"choice": wrong}, 0)
    # a cleared answer is a newer change like any other
    save_answer(db, attempt.id, item.id, 10, None)
    db.commit()
    (row,) = _stored(db, attempt.id).values()
    assert (row.seq, row.response, row.score) == (10, None, 0)


@pytest.mark.parametrize("kind", TYPES)
def test_malformed_response_is_422_and_nothing_is_stored(db, started, kind) -> None:  # type: ignore[no-untyped-def]
    _, attempt, items = started
    with pytest.raises(Unprocessable) as exc:
        save_answer(db, attempt.id, items[kind].id, 1, malformed_response(items[kind]))
    db.rollback()
    assert exc.value.code == "invalid_response" and "<b>" not in exc.value.message
    assert _stored(db, attempt.id) == {}


def test_bad_seq_and_unknown_item(db, started) -> None:  # type: ignore[no-untyped-def]
    _, attempt, items = started
    for seq in (0, -1, 2**31, "3", 1.5, True, None):
        with pytest.raises(InvalidInput):
            save_answer(db, attempt.id, items["grid_path"].id, seq, {"moves": "R"})
    with pytest.raises(NotFound):
        save_answer(db, attempt.id, "not-on-this-form", 1, {"choice": "A"})


def test_no_answers_after_submit_or_before_start(db) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = open_all_types_session(db)
    item = items["single_choice"]
    with pytest.raises(Conflict) as exc:
        save_answer(db, attempts[0].id, item.id, 1, {"choice": item.key})
    assert exc.value.code == "not_started"
    db.rollback()
    signed_in = login_with_ticket(db, attempts[0].ticket, secret_key=SECRET).attempt
    db.commit()
    with pytest.raises(Conflict) as exc:  # signing in does not start the test
        save_answer(db, attempts[0].id, item.id, 1, {"choice": item.key})
    assert exc.value.code == "not_started"
    db.rollback()
    start_attempt(db.get(Attempt, signed_in.id))
    save_answer(db, attempts[0].id, item.id, 1, {"choice": item.key})
    attempt = db.get(Attempt, attempts[0].id)
    attempt.status, attempt.submit_reason, attempt.submitted_at = "submitted", "student", utcnow()
    db.commit()
    with pytest.raises(Conflict) as exc:
        save_answer(db, attempt.id, item.id, 2, {"choice": item.key})
    assert exc.value.code == "submitted"
    assert save_answer(db, attempt.id, item.id, 1, {"choice": item.key}).seq == 1  # a replay still acks


def test_paused_session_refuses_new_saves_retryably(db, started) -> None:  # type: ignore[no-untyped-def]
    test_session, attempt, items = started
    pause_session(db, test_session.id, actor="t")
    db.commit()
    with pytest.raises(Conflict) as exc:
        save_answer(db, attempt.id, items["ordering"].id, 1, correct_response(items["ordering"]))
    assert exc.value.code == "paused"


def _deadline_passed(db, attempt_id, seconds_ago):  # type: ignore[no-untyped-def]
    attempt = db.get(Attempt, attempt_id)
    now = utcnow()
    attempt.started_at = attempt.last_contact_at = now - timedelta(minutes=40)
    attempt.deadline_at = now - timedelta(seconds=seconds_ago)
    db.commit()
    return attempt, now


def test_after_the_deadline_outside_the_grace_nothing_is_accepted(db, started) -> None:  # type: ignore[no-untyped-def]
    _, attempt, items = started
    attempt, now = _deadline_passed(db, attempt.id, LATE_GRACE.total_seconds() + 5)
    with pytest.raises(Conflict) as exc:
        save_answer(db, attempt.id, items["matching"].id, 1, correct_response(items["matching"]),
                    answered_at=attempt.deadline_at - timedelta(seconds=10), now=now)
    assert exc.value.code == "time_up"
    assert expire_if_due(attempt, now) and attempt.submit_reason == "deadline"


def test_late_delivery_rule(db, started) -> None:  # type: ignore[no-untyped-def]
    _, attempt, items = started
    item, other = items["short_answer"], items["single_choice"]
    attempt, now = _deadline_passed(db, attempt.id, 30)
    deadline = attempt.deadline_at
    # the client was last in contact (an acknowledged save) 5 minutes before the deadline
    save_answer(db, attempt.id, other.id, 1, {"choice": other.key}, answered_at=deadline - timedelta(minutes=5),
                now=deadline - timedelta(minutes=5))
    expire_if_due(attempt, now)
    db.commit()
    assert attempt.status == "submitted" and attempt.submit_reason == "deadline"
    # no claim, a claim after the deadline, or one before the last contact: refused
    for claim in (None, deadline + timedelta(seconds=1), deadline - timedelta(minutes=6)):
        with pytest.raises(Conflict) as exc:
            save_answer(db, attempt.id, item.id, 1, {"text": "32"}, answered_at=claim, now=now)
        assert exc.value.code == "time_up"
        db.rollback()
    # made during the outage, before the deadline, delivered within the grace: accepted with its claim
    claim = deadline - timedelta(minutes=2)
    ack = save_answer(db, attempt.id, item.id, 1, {"text": "32"}, answered_at=claim, now=now)
    db.commit()
    assert ack.changed and _stored(db, attempt.id)[_pk(db, attempt, item.id)].answered_at == claim
    # a later queued answer of the same outage still counts (late saves do not move the lower bound)
    ack = save_answer(db, attempt.id, other.id, 2, {"choice": other.key},
                      answered_at=deadline - timedelta(minutes=3), now=now + timedelta(seconds=1))
    assert ack.changed
    # a student's own submit ends everything
    db.get(Attempt, attempt.id).submit_reason = "student"
    db.commit()
    with pytest.raises(Conflict):
        save_answer(db, attempt.id, item.id, 2, {"text": "31"}, answered_at=claim, now=now)


def test_a_late_resave_does_not_move_the_last_contact_back(db, started) -> None:  # type: ignore[no-untyped-def]
    """Issue 12: the last contact is kept on the attempt, not read back from answers.saved_at.

    A late re-save of the item saved last before the deadline rewrote that row's saved_at;
    the last contact then fell back to the start, and an answer claiming a time long before
    the real last contact was accepted.
    """
    _, attempt, items = started
    item, other = items["short_answer"], items["single_choice"]
    attempt, now = _deadline_passed(db, attempt.id, 30)
    deadline = attempt.deadline_at
    # on time: the client's last contact, 5 minutes before the deadline
    save_answer(db, attempt.id, other.id, 1, {"choice": other.key}, answered_at=deadline - timedelta(minutes=5),
                now=deadline - timedelta(minutes=5))
    db.commit()
    assert db.get(Attempt, attempt.id).last_contact_at == deadline - timedelta(minutes=5)
    # late, but fair: a change of that same item made during the outage
    ack = save_answer(db, attempt.id, other.id, 2, {"choice": other.key},
                      answered_at=deadline - timedelta(minutes=1), now=now)
    db.commit()
    assert ack.changed
    assert db.get(Attempt, attempt.id).last_contact_at == deadline - timedelta(minutes=5)  # late saves do not move it
    # an answer claiming a time before the last contact is still refused
    with pytest.raises(Conflict) as exc:
        save_answer(db, attempt.id, item.id, 1, {"text": "32"}, answered_at=deadline - timedelta(minutes=30),
                    now=now + timedelta(seconds=1))
    assert exc.value.code == "time_up"


def test_a_closed_session_ends_late_delivery(db, started) -> None:  # type: ignore[no-untyped-def]
    """Rule 2: a late answer that would fit the late rule is refused once the proctor closed the session."""
    from assessment.proctoring import close_session

    test_session, attempt, items = started
    item = items["short_answer"]
    attempt, now = _deadline_passed(db, attempt.id, 30)
    deadline = attempt.deadline_at
    expire_if_due(attempt, now)
    close_session(db, test_session.id, actor="proctor1", now=now)
    db.commit()
    assert attempt.submit_reason == "deadline" and test_session.status == "closed"
    with pytest.raises(Conflict) as exc:
        save_answer(db, attempt.id, item.id, 1, {"text": "32"}, answered_at=deadline - timedelta(seconds=20),
                    now=now)
    assert exc.value.code == "session_closed"
    db.rollback()
    assert _stored(db, attempt.id) == {}


def test_claims_are_clamped_when_on_time(db, started) -> None:  # type: ignore[no-untyped-def]
    _, attempt, items = started
    item = items["single_choice"]
    save_answer(db, attempt.id, item.id, 1, {"choice": item.key}, answered_at=utcnow() - timedelta(days=3))
    db.commit()
    (row,) = _stored(db, attempt.id).values()
    assert row.answered_at >= db.get(Attempt, attempt.id).started_at


def _pk(db, attempt, item_id):  # type: ignore[no-untyped-def]
    from assessment.attempts import form_item_record

    return form_item_record(db, attempt.session, item_id).pk


def test_concurrent_saves_from_two_workers_keep_the_newest(db, started) -> None:  # type: ignore[no-untyped-def]
    """Two engines (like two gunicorn workers), many threads, seqs in random order: the max wins, no error."""
    _, attempt, items = started
    url = db.get_bind().url.render_as_string(hide_password=False)
    targets = [items["single_choice"], items["grid_path"]]
    jobs = [(t, seq) for t in targets for seq in range(1, 41)]
    random.Random(5).shuffle(jobs)

    def save(engine, item, seq) -> None:  # type: ignore[no-untyped-def]
        with make_session_factory(engine)() as session:
            response = correct_response(item) if seq % 2 else None
            ack = save_answer(session, attempt.id, item.id, seq, response)
            session.commit()
            assert ack.seq >= seq

    errors = save_concurrently(url, save, jobs)
    assert not errors, errors[:3]
    stored = _stored(db, attempt.id)
    assert sorted(a.seq for a in stored.values()) == [40, 40]
    assert all(a.response is None for a in stored.values())  # seq 40 is even: cleared
