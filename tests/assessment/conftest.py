"""Fixtures of the delivery tests: an all-types session with its first student signed in and started."""
import pytest

from .factories import login_and_start, open_all_types_session

SECRET = "test-secret-key-0123456789"


@pytest.fixture
def started(db):  # type: ignore[no-untyped-def]
    """(session, the started attempt, items by type) of a two-student grade-5 session with one item of each type."""
    test_session, attempts, items = open_all_types_session(db)
    login_and_start(db, attempts[0].ticket, secret_key=SECRET)
    db.commit()
    return test_session, attempts[0], items
