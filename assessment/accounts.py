"""Staff accounts: creation, password hashing and verification, role checks."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .errors import Conflict, InvalidInput, NotFound, Unauthorized
from .models import School, SchoolClass, User, UserClass

__all__ = ["ROLES", "authenticate", "change_password", "create_user", "end_sessions", "find_user", "hash_password",
           "sign_out_everywhere", "verify_password"]

ROLES = ("admin", "bureau", "school_admin", "proctor", "researcher", "teacher")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_DUMMY_HASH: str | None = None


def hash_password(password: str) -> str:
    """scrypt with a random salt, stored as `scrypt$n$r$p$salt$hash`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(stored: str, password: str) -> bool:
    """Constant-time check of a password against a stored hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(candidate.hex(), digest)


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters")


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    school_source_id: str | None = None,
    class_source_ids: Sequence[str] = (),
    display_name: str = "",
    actor: str = "system",
) -> User:
    """Create a staff user; school roles must name their school, a teacher also their classes."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    _check_password(password)
    if not username or len(username) > 64:
        raise InvalidInput("username must have 1 to 64 characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    school_id = None
    if role == "teacher" and not class_source_ids:
        raise InvalidInput("role teacher needs at least one class (its source id); they see only those classes")
    if class_source_ids and role != "teacher":
        raise InvalidInput(f"only teachers are linked to classes; role {role} is not")
    if role in ("school_admin", "proctor", "teacher"):
        if not school_source_id:
            raise InvalidInput(f"role {role} needs a school (its source id)")
        school = session.scalar(select(School).where(School.source_id == school_source_id))
        if school is None:
            raise InvalidInput(f"no school with source id {school_source_id!r}")
        school_id = school.id
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name or username,
        school_id=school_id,
    )
    session.add(user)
    session.flush()
    for source_id in class_source_ids:
        klass = session.scalar(select(SchoolClass).where(SchoolClass.source_id == source_id))
        if klass is None or klass.school_id != school_id:
            raise InvalidInput(f"no class {source_id!r} in school {school_source_id!r}")
        session.add(UserClass(user_id=user.id, class_id=klass.id))
    audit.record(session, actor, "user.create", username, role=role, school=school_source_id,
                 classes=list(class_source_ids))
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """Return the active user with these credentials, else raise Unauthorized."""
    global _DUMMY_HASH
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        # Spend the same time as a real check so timing does not reveal usernames.
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password(secrets.token_hex(8))
        verify_password(_DUMMY_HASH, password)
        raise Unauthorized("wrong username or password")
    if not verify_password(user.password_hash, password):
        raise Unauthorized("wrong username or password")
    return user


def find_user(session: Session, username: str) -> User:
    """The user called `username`, else NotFound naming it."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}; check the spelling (staff accounts are made with `ctcensus users create`)")
    return user


def end_sessions(session: Session, user: User) -> None:
    """Invalidate every login cookie of `user` issued so far (logout: copies of the cookie die too)."""
    user.session_version = (user.session_version or 0) + 1
    session.flush()


def change_password(session: Session, user: User, new_password: str, *, actor: str) -> None:
    """Set a new password and end every existing session of the user (audited)."""
    _check_password(new_password)
    user.password_hash = hash_password(new_password)
    end_sessions(session, user)
    audit.record(session, actor, "user.password", user.username)


def sign_out_everywhere(session: Session, user: User, *, actor: str) -> None:
    """An admin's "sign out everywhere": end every session of the user on every device (audited)."""
    end_sessions(session, user)
    audit.record(session, actor, "user.signout_all", user.username)
