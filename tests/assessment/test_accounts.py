import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment.accounts import authenticate, create_user, hash_password, verify_password
from assessment.errors import Conflict, InvalidInput, Unauthorized
from assessment.models import AuditEntry


def test_password_hash_is_salted_and_verifies() -> None:
    h1, h2 = hash_password("correct horse"), hash_password("correct horse")
    assert h1 != h2 and "correct horse" not in h1
    assert verify_password(h1, "correct horse") and not verify_password(h1, "wrong horse")
    assert not verify_password("garbage", "x")


def test_create_and_authenticate_with_audit(db: Session) -> None:
    create_user(db, "lin", "s3cret-pass", "researcher", actor="cli:test")
    db.commit()
    assert authenticate(db, "lin", "s3cret-pass").role == "researcher"
    with pytest.raises(Unauthorized):
        authenticate(db, "lin", "nope-nope")
    with pytest.raises(Unauthorized):
        authenticate(db, "nobody", "s3cret-pass")
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "user.create"))
    assert entry.actor == "cli:test" and entry.target == "lin"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("x", "short", "admin"), "at least 8"),
        (("x", "long-enough", "wizard"), "role must be one of"),
        (("x", "long-enough", "proctor"), "needs a school"),
    ],
)
def test_bad_users_are_refused(db: Session, args: tuple[str, str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        create_user(db, *args)


def test_duplicate_username(db: Session) -> None:
    create_user(db, "chen", "long-enough", "bureau")
    db.commit()
    with pytest.raises(Conflict):
        create_user(db, "chen", "long-enough", "bureau")
