"""Acknowledged vs stored answers (loadtest/referee.py): the ledger, the verdict, and reading the real schema."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from loadtest.referee import AckLedger, Stored, judge, read_stored


def test_the_ledger_keeps_the_highest_acknowledged_seq_and_counts_a_repeat_once() -> None:
    ledger = AckLedger()
    ledger.acknowledge(1, "a", 1)
    ledger.acknowledge(1, "a", 1)  # a save re-sent with the same seq
    ledger.acknowledge(1, "a", 3)  # a changed answer
    ledger.acknowledge(1, "a", 2)  # a stale save acknowledged late (the server answers its newer seq, but still)
    ledger.acknowledge(2, "a", 1)
    assert len(ledger) == 2 and ledger.saves == 5
    assert ledger.seq(1, "a") == 3 and ledger.seq(1, "b") is None
    assert ledger.of_attempt(1) == {"a": 3}
    assert ledger.acknowledged() == {(1, "a"): 3, (2, "a"): 1}


def test_stored_covers_the_acknowledgements_with_the_same_or_a_newer_seq() -> None:
    stored = Stored(answers=((1, "a", 3), (1, "b", 2), (2, "a", 1), (2, "z", 1)), submitted=2)
    verdict = judge({(1, "a"): 3, (1, "b"): 1, (2, "a"): 1}, stored, submits_acknowledged=2)
    assert verdict.covered
    assert (verdict.acknowledged, verdict.stored) == (3, 4)  # a save committed after its ack was lost: extra, fine


def test_missing_older_and_twice_stored_answers_are_named() -> None:
    stored = Stored(answers=((1, "a", 2), (1, "a", 4), (2, "b", 1)), submitted=1)
    verdict = judge({(1, "a"): 3, (2, "b"): 2, (3, "c"): 1}, stored, submits_acknowledged=2)
    assert not verdict.covered
    assert verdict.missing == ((3, "c", 1),)
    assert verdict.behind == ((2, "b", 2, 1),)
    assert verdict.duplicates == ((1, "a"),)
    assert (verdict.submits_acknowledged, verdict.submitted_stored) == (2, 1)
    assert not judge({}, Stored(answers=(), submitted=0), submits_acknowledged=1).covered  # a lost submit


def test_read_stored_reads_the_answers_of_the_given_sessions(db: Any, database_url: str) -> None:
    from assessment.answers import save_answer
    from assessment.attempts import submit_attempt
    from assessment.models import Attempt
    from tests.assessment.factories import login_and_start, open_session

    mine, attempts = open_session(db, n_students=2)
    other, others = open_session(db, n_students=1, school="es-t02")
    now = datetime.now(UTC)
    for attempt in (attempts[0], others[0]):
        login_and_start(db, attempt.ticket, secret_key="k" * 32, now=now)
    item_ids = [fi.item.item_id for fi in mine.form.items][:2]
    save_answer(db, attempts[0].id, item_ids[0], 1, None, now=now)
    save_answer(db, attempts[0].id, item_ids[0], 2, None, now=now)
    save_answer(db, attempts[0].id, item_ids[1], 5, None, now=now)
    save_answer(db, others[0].id, item_ids[0], 1, None, now=now)
    submit_attempt(db.get(Attempt, attempts[0].id), now=now)
    db.commit()

    stored = read_stored(database_url, [mine.id])
    assert sorted(stored.answers) == sorted([(attempts[0].id, item_ids[0], 2), (attempts[0].id, item_ids[1], 5)])
    assert stored.submitted == 1
    assert read_stored(database_url, [other.id]).answers == ((others[0].id, item_ids[0], 1),)
