"""Reading the audit trail: who did what, when, filtered by actor, action and object; newest first, by page.

Admins and researchers read it (`AUDIT_ROLES`); addresses are shown to admins
only. Filters: `actor` and `target` (the object) match anywhere in the text,
`action` matches from the start (``results`` finds ``results.compute`` and
``results.export``); every match is case-insensitive and literal (``%`` and
``_`` are plain characters). Times are Taiwan time.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit
from .models import AuditEntry
from .results_export import ResultTable

__all__ = ["AUDIT_ROLES", "EXPORT_LIMIT", "PAGE_SIZE", "AuditFilter", "AuditPage", "AuditRow", "audit_actions",
           "audit_page", "audit_table", "record_audit_export", "sees_addresses"]

AUDIT_ROLES = ("admin", "researcher")
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
TAIWAN = timezone(timedelta(hours=8), "Asia/Taipei")
_MAX_FILTER = 128


@dataclass(frozen=True)
class AuditFilter:
    """What to look for; empty fields match everything."""

    actor: str = ""
    action: str = ""
    target: str = ""

    @classmethod
    def of(cls, actor: str | None, action: str | None, target: str | None) -> AuditFilter:
        """Trimmed (and capped: no column is longer) filter values from a form or a command line."""
        return cls(*((v or "").strip()[:_MAX_FILTER] for v in (actor, action, target)))

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("actor", self.actor), ("action", self.action), ("target", self.target)) if v}


@dataclass(frozen=True)
class AuditRow:
    """One entry as shown: Taiwan time, who, what, on which object, details as text, address (admins)."""

    id: int
    at: str
    actor: str
    action: str
    target: str
    detail: str
    ip: str


@dataclass(frozen=True)
class AuditPage:
    """One page of matching entries, newest first, with the count of all matches."""

    rows: list[AuditRow]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def sees_addresses(role: str) -> bool:
    """Network addresses in the trail are for admins (researchers read who did what, not from where)."""
    return role == "admin"


def _where(q: Any, filters: AuditFilter) -> Any:
    if filters.actor:
        q = q.where(func.lower(AuditEntry.actor).contains(filters.actor.lower(), autoescape=True))
    if filters.action:
        q = q.where(func.lower(AuditEntry.action).startswith(filters.action.lower(), autoescape=True))
    if filters.target:
        q = q.where(func.lower(AuditEntry.target).contains(filters.target.lower(), autoescape=True))
    return q


def _detail(detail: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
                     for k, v in sorted((detail or {}).items()))


def _row(entry: AuditEntry, with_ip: bool) -> AuditRow:
    return AuditRow(id=entry.id, at=entry.at.astimezone(TAIWAN).isoformat(sep=" ", timespec="seconds"),
                    actor=entry.actor, action=entry.action, target=entry.target, detail=_detail(entry.detail),
                    ip=entry.ip if with_ip else "")


def _entries(filters: AuditFilter) -> Any:
    return _where(select(AuditEntry), filters).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def audit_page(session: Session, filters: AuditFilter, *, page: int = 1, per_page: int = PAGE_SIZE,
               with_ip: bool = False) -> AuditPage:
    """Page `page` (from 1) of the entries matching `filters`, newest first."""
    page = max(1, page)
    total = session.scalar(_where(select(func.count()).select_from(AuditEntry), filters)) or 0
    entries = session.scalars(_entries(filters).offset((page - 1) * per_page).limit(per_page))
    return AuditPage([_row(e, with_ip) for e in entries], page, per_page, total)


def audit_actions(session: Session) -> list[str]:
    """Every action recorded so far (for the filter's suggestions)."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def audit_table(session: Session, filters: AuditFilter, *, with_ip: bool = False,
                limit: int = EXPORT_LIMIT) -> ResultTable:
    """The matching entries (newest first, at most `limit`) as a table for CSV/XLSX."""
    rows = [_row(e, with_ip) for e in session.scalars(_entries(filters).limit(limit))]
    columns = ("id", "at", "actor", "action", "target", "detail") + (("ip",) if with_ip else ())
    return ResultTable(columns, [[r.id, r.at, r.actor, r.action, r.target, r.detail] + ([r.ip] if with_ip else [])
                                 for r in rows])


def record_audit_export(session: Session, actor: str, filters: AuditFilter, target: str, rows: int,
                        ip: str = "") -> None:
    """Reading the audit trail out is itself audited, with the filters used."""
    audit.record(session, actor, "audit.export", target[:128], ip=ip, rows=rows,
                 **{f"filter_{k}": v for k, v in filters.as_dict().items()})
