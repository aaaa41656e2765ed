"""Test windows: the unit results are computed for (e.g. the 113 academic-year census)."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .db import utcnow
from .errors import Conflict, InvalidInput, NotFound
from .models import TestWindow

__all__ = ["MAX_ACADEMIC_YEAR", "MIN_ACADEMIC_YEAR", "create_window", "current_window", "get_window", "list_windows", "selectable_windows"]

_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
#: Taiwan counts academic years in the ROC calendar (113 = 2024-25); AD years fit the same range.
MIN_ACADEMIC_YEAR, MAX_ACADEMIC_YEAR = 1, 9999


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def create_window(
    session: Session,
    code: str,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    academic_year: int | None = None,
    actor: str = "system",
) -> TestWindow:
    """Create a window; the academic year defaults to the leading digits of the code ('113' → 113)."""
    if not _CODE.match(code or ""):
        raise InvalidInput(f"window code must be 1-32 letters, digits, '.', '_' or '-'; got {code!r}")
    if not name.strip():
        raise InvalidInput("window name must not be empty")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("window start and end need a time zone (e.g. 2026-05-04T08:00+08:00)")
    if ends_at <= starts_at:
        raise InvalidInput(f"window must end after it starts; got {starts_at.isoformat()} .. {ends_at.isoformat()}")
    if academic_year is None:
        digits = re.match(r"[0-9]+", code)
        if digits is None:
            raise InvalidInput(f"cannot read the academic year from code {code!r}; give it explicitly")
        if len(digits.group()) > 4:
            raise InvalidInput(
                f"code {code!r} starts with {digits.group()}, which is no academic year; "
                f"give it explicitly (--academic-year, {MIN_ACADEMIC_YEAR}-{MAX_ACADEMIC_YEAR})"
            )
        academic_year = int(digits.group())
    if not _is_int(academic_year) or not MIN_ACADEMIC_YEAR <= academic_year <= MAX_ACADEMIC_YEAR:
        raise InvalidInput(
            f"academic year must be {MIN_ACADEMIC_YEAR}-{MAX_ACADEMIC_YEAR} (a ROC year such as 113, "
            f"or an AD year such as 2024); got {academic_year!r}"
        )
    if session.scalar(select(TestWindow).where(TestWindow.code == code)) is not None:
        raise Conflict(f"a test window with code {code!r} already exists", code="window_exists")
    window = TestWindow(code=code, name=name.strip(), academic_year=academic_year, starts_at=starts_at, ends_at=ends_at)
    session.add(window)
    session.flush()
    audit.record(session, actor, "window.create", code, name=window.name, starts_at=starts_at.isoformat(),
                 ends_at=ends_at.isoformat())
    return window


def get_window(session: Session, code: str) -> TestWindow:
    """The window with this code, or NotFound."""
    window = session.scalar(select(TestWindow).where(TestWindow.code == code))
    if window is None:
        raise NotFound(f"no test window with code {code!r}; create one with `ctcensus window create`")
    return window


def list_windows(session: Session) -> list[TestWindow]:
    """All windows, newest start first."""
    return list(session.scalars(select(TestWindow).order_by(TestWindow.starts_at.desc())))


def current_window(session: Session, now: datetime | None = None) -> TestWindow:
    """The window open now, else the only window; InvalidInput when that is ambiguous or there is none."""
    now = now or utcnow()
    windows = list_windows(session)
    open_now = [w for w in windows if w.starts_at <= now <= w.ends_at]
    if len(open_now) == 1:
        return open_now[0]
    if not open_now and len(windows) == 1:
        return windows[0]
    if not windows:
        raise InvalidInput("there is no test window yet; create one with `ctcensus window create --code 113 ...`")
    codes = ", ".join(w.code for w in (open_now or windows))
    raise InvalidInput(f"several test windows could apply ({codes}); name one with --window CODE")


def selectable_windows(session: Session, now: datetime | None = None) -> list[TestWindow]:
    """Windows a new session may be opened in: those open now, else the only window (as current_window)."""
    now = now or utcnow()
    windows = list_windows(session)
    open_now = [w for w in windows if w.starts_at <= now <= w.ends_at]
    if open_now:
        return open_now
    return windows if len(windows) == 1 else []
