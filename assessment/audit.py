"""Append-only audit trail of administrative actions."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .models import AuditEntry

__all__ = ["record"]


def record(session: Session, actor: str, action: str, target: str = "", ip: str = "", **detail: Any) -> AuditEntry:
    """Add an audit entry to the caller's transaction (it commits with the action itself)."""
    entry = AuditEntry(actor=actor, action=action, target=target, ip=ip, detail=detail)
    session.add(entry)
    return entry
