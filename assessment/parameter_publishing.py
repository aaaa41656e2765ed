"""Publish a parameter set for a window, and undo it (issue 11.4): one operational set per window.

Publishing sets `TestWindow.parameter_set_id` (the set `ctcensus results compute`
then scores with by default), marks the set published and not provisional, moves
the set's pilot item versions to operational and records all that in a
`ParameterSetPublication`, so `unpublish_window` restores the previous set and
moves those items back. Audited.

Two researchers publishing at once: each says which set it saw on the window
(`expected_set_id`, read before its transaction: the page it saw, or the CLI's
first look), and the window is changed by one conditional UPDATE (`... WHERE
parameter_set_id IS <expected>`). On PostgreSQL the second UPDATE waits on the
first's row lock and then matches no row; on SQLite every transaction begins
IMMEDIATE, so the second waits for the first to commit and then matches no row.
Either way exactly one wins and the other raises `Conflict` with nothing changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from item_bank import ItemStatus

from . import audit
from .db import utcnow
from .errors import Conflict
from .models import CalibrationRun, ItemParameterRecord, ItemRecord, ParameterSet, ParameterSetPublication, TestWindow
from .parameter_sets import get_set
from .windows import get_window

__all__ = ["UNSEEN", "PublishOutcome", "current_set_id", "publish_set", "unconverged_source", "unpublish_window"]

#: `expected_set_id` not given: the window's set as read in the publishing transaction itself
UNSEEN: Any = object()


@dataclass(frozen=True)
class PublishOutcome:
    """What a publish or unpublish did."""

    window: str
    parameter_set: str | None  # the window's set now (None: the provisional set from the item files)
    previous_set: str | None
    moved_items: tuple[str, ...]  # item ids moved pilot -> operational (publish) or back (unpublish)


def current_set_id(session: Session, window_code: str) -> int | None:
    """The window's published set id as it is now (what a caller passes as `expected_set_id` later)."""
    return get_window(session, window_code).parameter_set_id


def _matches(expected: int | None) -> ColumnElement[bool]:
    return TestWindow.parameter_set_id.is_(None) if expected is None else TestWindow.parameter_set_id == expected


def _swap(session: Session, window: TestWindow, expected: int | None, new: int | None) -> None:
    """The conditional UPDATE: the window's set becomes `new` only if it still is `expected`, else Conflict."""
    result = session.execute(update(TestWindow).where(TestWindow.id == window.id, _matches(expected))
                             .values(parameter_set_id=new).execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        now = session.scalar(select(TestWindow.parameter_set_id).where(TestWindow.id == window.id))
        name = session.scalar(select(ParameterSet.name).where(ParameterSet.id == now)) if now else None
        raise Conflict(f"window {window.code}'s set changed while you published; it is now "
                       f"{name or 'the provisional set from the item files'}. Nothing was changed; look again "
                       f"(ctcensus params list) and publish again if you still mean to", code="publish_conflict")
    session.refresh(window)


def _published_anywhere(session: Session, set_id: int) -> bool:
    return session.scalar(select(TestWindow.id).where(TestWindow.parameter_set_id == set_id).limit(1)) is not None


def _item_ids(session: Session, pks: list[int]) -> tuple[str, ...]:
    return tuple(sorted(session.scalars(select(ItemRecord.item_id).where(ItemRecord.pk.in_(pks)))))


def unconverged_source(session: Session, pset: ParameterSet) -> str | None:
    """Why `pset`'s estimates are not final: its calibration run (or, for a linked set, its source's) did not converge.

    None when the set converged or did not come from a run (item files). Publishing such a set silently
    would score a census with estimates the EM had not settled.
    """
    seen: set[int] = set()
    current: ParameterSet | None = pset
    while current is not None and current.id not in seen:
        seen.add(current.id)
        run = session.scalar(select(CalibrationRun).where(CalibrationRun.parameter_set_id == current.id))
        if run is not None and not (run.result or {}).get("converged", True):
            return (f"calibration run {run.id} ({run.name}) did not converge in {run.result.get('n_iter', '?')} "  # type: ignore[union-attr]
                    f"EM iterations")
        origin = current.origin or {}
        source = origin.get("from") if origin.get("kind") == "link" else None
        current = session.scalar(select(ParameterSet).where(ParameterSet.name == source)) if source else None
    return None


def publish_set(session: Session, name: str, window_code: str, actor: str, *, expected_set_id: Any = UNSEEN,
                ip: str = "", allow_unconverged: bool = False) -> PublishOutcome:
    """Make set `name` the window's operational set, in the caller's transaction (see the module docstring).

    A set whose estimates did not converge is refused (Conflict) unless `allow_unconverged`: the
    researcher re-runs it (more iterations, fewer items) or says so explicitly, and the audit records it.
    """
    pset = get_set(session, name)
    window = get_window(session, window_code)
    unconverged = unconverged_source(session, pset)
    if unconverged is not None and not allow_unconverged:
        raise Conflict(f"parameter set {name!r} is not published: {unconverged}. Re-run it (ctcensus calibrate "
                       f"--rerun, more --max-iter) or, if you accept its estimates, publish it with "
                       f"--allow-unconverged", code="unconverged")
    expected = window.parameter_set_id if expected_set_id is UNSEEN else expected_set_id
    if expected == pset.id and window.parameter_set_id == pset.id:
        raise Conflict(f"parameter set {name!r} is already published for window {window.code}")
    previous = expected
    _swap(session, window, expected, pset.id)
    pilots = list(session.scalars(
        select(ItemRecord.pk).join(ItemParameterRecord, ItemParameterRecord.item_pk == ItemRecord.pk)
        .where(ItemParameterRecord.parameter_set_id == pset.id, ItemRecord.status == ItemStatus.PILOT)
        .order_by(ItemRecord.pk)))
    if pilots:
        session.execute(update(ItemRecord).where(ItemRecord.pk.in_(pilots))
                        .values(status=ItemStatus.OPERATIONAL).execution_options(synchronize_session=False))
    publication = ParameterSetPublication(window_id=window.id, parameter_set_id=pset.id, previous_set_id=previous,
                                          previous_provisional=pset.provisional, moved_items=pilots,
                                          published_by=actor, published_at=utcnow())
    session.add(publication)
    pset.published, pset.provisional = True, False
    prev = session.get(ParameterSet, previous) if previous is not None else None
    if prev is not None:
        prev.published = _published_anywhere(session, prev.id)
    moved = _item_ids(session, pilots)
    session.flush()
    audit.record(session, actor, "params.publish", f"window {window.code}", ip=ip, parameter_set=pset.name,
                 previous=prev.name if prev is not None else None, moved_to_operational=list(moved),
                 publication=publication.id, **({"unconverged": unconverged} if unconverged else {}))
    return PublishOutcome(window.code, pset.name, prev.name if prev is not None else None, moved)


def unpublish_window(session: Session, window_code: str, actor: str, *, expected_set_id: Any = UNSEEN,
                     ip: str = "") -> PublishOutcome:
    """Undo the window's latest publication: restore the set it replaced and move its items back to pilot."""
    window = get_window(session, window_code)
    expected = window.parameter_set_id if expected_set_id is UNSEEN else expected_set_id
    publication = session.scalar(
        select(ParameterSetPublication).where(ParameterSetPublication.window_id == window.id,
                                              ParameterSetPublication.parameter_set_id == expected,
                                              ParameterSetPublication.withdrawn_at.is_(None))
        .order_by(ParameterSetPublication.id.desc()).limit(1))
    if expected is None or publication is None:
        raise Conflict(f"window {window.code} has no published parameter set to withdraw"
                       + (" (it scores with the provisional set from the item files)" if expected is None else ""))
    _swap(session, window, expected, publication.previous_set_id)
    pset = publication.parameter_set
    pset.provisional = publication.previous_provisional
    pset.published = _published_anywhere(session, pset.id)
    prev = publication.previous_set
    if prev is not None:
        prev.published = True
    # items another published set still holds stay operational
    in_use = set(session.scalars(
        select(ItemParameterRecord.item_pk).join(TestWindow, TestWindow.parameter_set_id
                                                 == ItemParameterRecord.parameter_set_id)
        .where(ItemParameterRecord.item_pk.in_(publication.moved_items))))
    back = [pk for pk in session.scalars(select(ItemRecord.pk).where(
        ItemRecord.pk.in_(publication.moved_items), ItemRecord.status == ItemStatus.OPERATIONAL)) if pk not in in_use]
    if back:
        session.execute(update(ItemRecord).where(ItemRecord.pk.in_(back))
                        .values(status=ItemStatus.PILOT).execution_options(synchronize_session=False))
    publication.withdrawn_by, publication.withdrawn_at = actor, utcnow()
    moved = _item_ids(session, back)
    session.flush()
    audit.record(session, actor, "params.unpublish", f"window {window.code}", ip=ip, parameter_set=pset.name,
                 restored=prev.name if prev is not None else None, moved_to_pilot=list(moved),
                 publication=publication.id)
    return PublishOutcome(window.code, prev.name if prev is not None else None, pset.name, moved)
