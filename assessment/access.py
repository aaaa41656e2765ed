"""Who may see which results: a Scope built from the staff user, applied inside every results query.

bureau and admin: everything; researcher: everything, with stable pseudonyms
instead of roster ids; school_admin: their school (plus district and city
rows to compare with); teacher: their classes (plus district and city rows);
everyone else: nothing (Forbidden).
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import Forbidden
from .models import User, UserClass

__all__ = ["RESULT_ROLES", "Scope", "pseudonym"]

RESULT_ROLES = ("admin", "bureau", "researcher", "school_admin", "teacher")


@dataclass(frozen=True)
class Scope:
    """What one user may read; `all` for the CLI (an operator on the server)."""

    role: str
    school_id: int | None = None
    class_ids: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def everything(cls) -> Scope:
        return cls(role="admin")

    @classmethod
    def for_user(cls, session: Session, user: User) -> Scope:
        """The user's scope; Forbidden for roles that see no results (e.g. proctor)."""
        if user.role not in RESULT_ROLES:
            raise Forbidden("your role does not include census results; ask the bureau for access")
        if user.role in ("school_admin", "teacher") and user.school_id is None:
            raise Forbidden("your account is not linked to a school; ask an administrator")
        classes: frozenset[int] = frozenset()
        if user.role == "teacher":
            classes = frozenset(session.scalars(select(UserClass.class_id).where(UserClass.user_id == user.id)))
        return cls(role=user.role, school_id=user.school_id, class_ids=classes)

    @property
    def sees_all(self) -> bool:
        return self.role in ("admin", "bureau", "researcher")

    @property
    def pseudonymous(self) -> bool:
        return self.role == "researcher"

    def check_school(self, school_id: int) -> None:
        """Forbidden unless the user may see this school's rows."""
        if self.sees_all or (self.role == "school_admin" and school_id == self.school_id):
            return
        raise Forbidden("you can only see results of your own school")

    def check_class(self, class_id: int, school_id: int) -> None:
        """Forbidden unless the user may see this class's rows."""
        if self.sees_all or (self.role == "school_admin" and school_id == self.school_id):
            return
        if self.role == "teacher" and class_id in self.class_ids:
            return
        raise Forbidden("you can only see results of your own classes")


def pseudonym(secret_key: str, kind: str, source_id: str) -> str:
    """A stable pseudonym: the same roster id gives the same code under the same key, and nothing else does."""
    digest = hmac.new(secret_key.encode(), f"ctcensus-pseudonym|{kind}|{source_id}".encode(), hashlib.sha256)
    return f"{kind[:1].upper()}{digest.hexdigest()[:12]}"
