"""Test forms: built from a blueprint out of operational items, versioned, frozen once used.

Building is deterministic given the seed. Anchors are drawn with the seed only
(not the grade), so grade-5 and grade-8 forms built with the same seed share
their anchor items: the link for the vertical scale. Rotated booklets share
the anchors and rotate through the rest of each dimension's pool.
"""
from __future__ import annotations

import random
import string
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from item_bank import Item

from . import audit
from .errors import Conflict, InvalidInput, NotFound
from .item_store import list_items
from .models import Form, FormItem, ItemRecord

__all__ = [
    "DIMENSIONS",
    "Blueprint",
    "build_forms",
    "default_blueprint",
    "delivered_item",
    "form_items",
    "form_summary",
    "freeze_form",
    "get_form",
    "item_from_content",
    "list_forms",
    "new_form_version",
    "operational_forms",
    "update_form",
]

DIMENSIONS = ("D1", "D2", "D3", "D4")
# DESIGN.md §6: grade 5 ≈ 20 items / 35 min, grade 8 ≈ 24 items / 40 min, ~8 shared anchors.
_DEFAULTS = {5: (5, 8, 35), 8: (6, 8, 40)}


@dataclass(frozen=True)
class Blueprint:
    """What a form must contain: items per dimension (anchors included), anchors, time limit, seed."""

    grade: int
    items_per_dimension: Mapping[str, int]
    anchors: int = 8
    time_limit_minutes: int = 35
    seed: int = 1
    # Per-student option order by default: an authored order must never be what every student
    # sees (issue 8.1); printed forms ask for False explicitly.
    shuffle_options: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.grade not in (5, 8):
            raise InvalidInput(f"blueprint grade must be 5 or 8; got {self.grade!r}")
        unknown = sorted(set(self.items_per_dimension) - set(DIMENSIONS))
        if unknown:
            raise InvalidInput(f"blueprint items_per_dimension has unknown dimensions {unknown}; use {DIMENSIONS}")
        if any(int(n) < 0 for n in self.items_per_dimension.values()):
            raise InvalidInput("blueprint items_per_dimension counts must be 0 or more")
        if self.anchors < 0 or self.anchors > self.total_items:
            raise InvalidInput(f"blueprint anchors must be between 0 and the {self.total_items} items; got {self.anchors}")
        if self.total_items == 0:
            raise InvalidInput("a blueprint needs at least one item")
        if not 1 <= self.time_limit_minutes <= 240:
            raise InvalidInput(f"time limit must be 1-240 minutes; got {self.time_limit_minutes}")

    @property
    def total_items(self) -> int:
        return sum(int(n) for n in self.items_per_dimension.values())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["items_per_dimension"] = {d: int(n) for d, n in sorted(self.items_per_dimension.items())}
        data["extra"] = dict(self.extra)
        return data


def default_blueprint(
    session: Session,
    grade: int,
    *,
    seed: int = 1,
    per_dimension: int | None = None,
    anchors: int | None = None,
    time_limit_minutes: int | None = None,
    shuffle_options: bool = True,
) -> Blueprint:
    """DESIGN.md's blueprint for the grade, capped to the operational items the bank has."""
    if grade not in _DEFAULTS:
        raise InvalidInput(f"grade must be 5 or 8; got {grade!r}")
    d_per_dim, d_anchors, d_minutes = _DEFAULTS[grade]
    per_dim = d_per_dim if per_dimension is None else per_dimension
    pool = list_items(session, grade=grade, status="operational")
    counts = {d: min(per_dim, sum(1 for r in pool if r.dimension == d)) for d in DIMENSIONS}
    n_anchor_pool = sum(1 for r in pool if _is_anchor(r))
    want_anchors = d_anchors if anchors is None else anchors
    return Blueprint(
        grade=grade,
        items_per_dimension=counts,
        anchors=min(want_anchors, n_anchor_pool, sum(counts.values())),
        time_limit_minutes=d_minutes if time_limit_minutes is None else time_limit_minutes,
        seed=seed,
        shuffle_options=shuffle_options,
    )


def _is_anchor(record: ItemRecord) -> bool:
    return bool(record.anchor) and set(record.grades.split(",")) >= {"5", "8"}


def build_forms(
    session: Session,
    blueprint: Blueprint,
    *,
    code: str | None = None,
    booklets: int = 1,
    actor: str = "system",
) -> list[Form]:
    """Build `booklets` forms sharing the anchors; a code already used gets its next version."""
    if not 1 <= booklets <= 26:
        raise InvalidInput(f"booklets must be 1-26; got {booklets}")
    code = code or f"G{blueprint.grade}-S{blueprint.seed}"
    if not code or len(code) > 30 or any(ch not in string.ascii_letters + string.digits + "-_." for ch in code):
        raise InvalidInput(f"form code must be 1-30 letters, digits, '-', '_' or '.'; got {code!r}")
    pool = list_items(session, grade=blueprint.grade, status="operational")
    anchors = _pick_anchors(pool, blueprint)
    anchor_ids = {r.item_id for r in anchors}
    forms = []
    for b in range(booklets):
        booklet = string.ascii_uppercase[b] if booklets > 1 else ""
        chosen = list(anchors)
        for dim in DIMENSIONS:
            need = int(blueprint.items_per_dimension.get(dim, 0)) - sum(1 for r in anchors if r.dimension == dim)
            if need <= 0:
                continue
            chosen += _rotate(_dimension_pool(pool, dim, blueprint, anchor_ids), need, b, dim, blueprint)
        rng = random.Random(f"{blueprint.seed}|{blueprint.grade}|{booklet}|order")
        chosen.sort(key=lambda r: r.item_id)
        rng.shuffle(chosen)
        form_code = f"{code}-{booklet}" if booklet else code
        version = (session.scalar(select(func.max(Form.version)).where(Form.code == form_code)) or 0) + 1
        details = blueprint.to_dict() | {"booklet": booklet, "booklets": booklets,
                                         "anchor_items": sorted(anchor_ids)}
        form = Form(code=form_code, version=version, grade=blueprint.grade,
                    time_limit_minutes=blueprint.time_limit_minutes, blueprint=details,
                    shuffle_options=blueprint.shuffle_options, frozen=False)
        form.items = [FormItem(position=i + 1, item_pk=r.pk) for i, r in enumerate(chosen)]
        session.add(form)
        session.flush()
        audit.record(session, actor, "form.build", f"{form.code} v{form.version}", form_id=form.id,
                     items=[r.item_id for r in chosen], seed=blueprint.seed)
        forms.append(form)
    return forms


def _pick_anchors(pool: Sequence[ItemRecord], bp: Blueprint) -> list[ItemRecord]:
    """Anchors spread round-robin over dimensions, drawn with the seed only (shared by both grades)."""
    if bp.anchors == 0:
        return []
    rng = random.Random(f"{bp.seed}|anchors")
    by_dim: dict[str, list[ItemRecord]] = {}
    for dim in DIMENSIONS:
        items = sorted((r for r in pool if _is_anchor(r) and r.dimension == dim), key=lambda r: r.item_id)
        rng.shuffle(items)
        by_dim[dim] = items
    picked: list[ItemRecord] = []
    progress = True
    while len(picked) < bp.anchors and progress:
        progress = False
        for dim in DIMENSIONS:
            cap = int(bp.items_per_dimension.get(dim, 0))
            if len(picked) < bp.anchors and by_dim[dim] and sum(r.dimension == dim for r in picked) < cap:
                picked.append(by_dim[dim].pop(0))
                progress = True
    if len(picked) < bp.anchors:
        raise InvalidInput(
            f"the blueprint asks for {bp.anchors} anchors but only {len(picked)} operational anchor items "
            f"(grades 5 and 8) fit its dimension counts; lower --anchors or import more anchor items"
        )
    return picked


def _dimension_pool(pool: Sequence[ItemRecord], dim: str, bp: Blueprint, anchor_ids: set[str]) -> list[ItemRecord]:
    rng = random.Random(f"{bp.seed}|{bp.grade}|{dim}")
    regular = sorted((r for r in pool if r.dimension == dim and not r.anchor), key=lambda r: r.item_id)
    spare = sorted((r for r in pool if r.dimension == dim and r.anchor and r.item_id not in anchor_ids),
                   key=lambda r: r.item_id)
    rng.shuffle(regular)
    rng.shuffle(spare)
    return regular + spare  # unused anchors only fill in when the regular items run out


def _rotate(items: list[ItemRecord], need: int, booklet: int, dim: str, bp: Blueprint) -> list[ItemRecord]:
    if len(items) < need:
        raise InvalidInput(
            f"the blueprint asks for {need} non-anchor grade-{bp.grade} {dim} items but the bank has only "
            f"{len(items)} operational ones; lower the count for {dim} or import more items"
        )
    start = (booklet * need) % len(items)
    return [items[(start + k) % len(items)] for k in range(need)]


def list_forms(session: Session, grade: int | None = None) -> list[Form]:
    """All forms (every version), by code then version."""
    query = select(Form).order_by(Form.code, Form.version)
    if grade is not None:
        query = query.where(Form.grade == grade)
    return list(session.scalars(query))


def operational_forms(session: Session, grade: int | None = None) -> list[Form]:
    """Forms a session can be opened on: at least one item and every item operational; newest first."""
    not_operational = (select(FormItem.form_id).join(ItemRecord, ItemRecord.pk == FormItem.item_pk)
                       .where(ItemRecord.status != "operational"))
    query = (select(Form).where(Form.id.in_(select(FormItem.form_id)), Form.id.not_in(not_operational))
             .order_by(Form.created_at.desc(), Form.id.desc()))
    if grade is not None:
        query = query.where(Form.grade == grade)
    return list(session.scalars(query))


def get_form(session: Session, form_id: int) -> Form:
    """A form by id, or NotFound."""
    form = session.get(Form, form_id)
    if form is None:
        raise NotFound(f"no form with id {form_id}; list them with `ctcensus forms list`")
    return form


def update_form(
    session: Session,
    form_id: int,
    *,
    time_limit_minutes: int | None = None,
    shuffle_options: bool | None = None,
    item_ids: Sequence[str] | None = None,
    actor: str = "system",
) -> Form:
    """Edit a form that no session uses yet; a frozen form raises Conflict (make a new version)."""
    form = get_form(session, form_id)
    if form.frozen:
        raise Conflict(
            f"form {form.code} v{form.version} is frozen because a session uses it; "
            f"edit a new version instead (new_form_version / `ctcensus forms build --code {form.code}`)",
            code="form_frozen",
        )
    if time_limit_minutes is not None:
        if not 1 <= time_limit_minutes <= 240:
            raise InvalidInput(f"time limit must be 1-240 minutes; got {time_limit_minutes}")
        form.time_limit_minutes = time_limit_minutes
    if shuffle_options is not None:
        form.shuffle_options = bool(shuffle_options)
    if item_ids is not None:
        records = []
        for item_id in item_ids:
            record = session.scalar(select(ItemRecord).where(ItemRecord.item_id == item_id)
                                    .order_by(ItemRecord.version.desc()).limit(1))
            if record is None or record.status != "operational" or str(form.grade) not in record.grades.split(","):
                raise InvalidInput(f"item {item_id!r} is not an operational grade-{form.grade} item")
            records.append(record)
        if len({r.pk for r in records}) != len(records):
            raise InvalidInput("a form cannot hold the same item twice")
        form.items.clear()
        session.flush()
        form.items.extend(FormItem(position=i + 1, item_pk=r.pk) for i, r in enumerate(records))
    session.flush()
    audit.record(session, actor, "form.update", f"{form.code} v{form.version}", form_id=form.id)
    return form


def new_form_version(session: Session, form_id: int, *, actor: str = "system") -> Form:
    """An unfrozen copy of a form as the next version of its code."""
    old = get_form(session, form_id)
    version = (session.scalar(select(func.max(Form.version)).where(Form.code == old.code)) or 0) + 1
    form = Form(code=old.code, version=version, grade=old.grade, time_limit_minutes=old.time_limit_minutes,
                blueprint=dict(old.blueprint), shuffle_options=old.shuffle_options, frozen=False)
    form.items = [FormItem(position=fi.position, item_pk=fi.item_pk) for fi in old.items]
    session.add(form)
    session.flush()
    audit.record(session, actor, "form.new_version", f"{form.code} v{form.version}", from_form_id=old.id)
    return form


def freeze_form(form: Form) -> None:
    """Mark a form as used: from now on it can only be replaced by a new version."""
    form.frozen = True


def form_summary(form: Form) -> dict[str, Any]:
    """A JSON-able description of a form (for the CLI and staff pages)."""
    counts: dict[str, int] = {}
    for fi in form.items:
        counts[fi.item.dimension] = counts.get(fi.item.dimension, 0) + 1
    return {
        "id": form.id,
        "code": form.code,
        "version": form.version,
        "grade": form.grade,
        "time_limit_minutes": form.time_limit_minutes,
        "shuffle_options": form.shuffle_options,
        "frozen": form.frozen,
        "booklet": form.blueprint.get("booklet", ""),
        "n_items": len(form.items),
        "items_per_dimension": dict(sorted(counts.items())),
        "anchors": [fi.item.item_id for fi in form.items if fi.item.item_id in set(form.blueprint.get("anchor_items", ()))],
        "items": [fi.item.item_id for fi in form.items],
    }


_ITEM_CACHE: dict[tuple[int, str], Item] = {}
_CACHE_LOCK = threading.Lock()


def delivered_item(record: ItemRecord) -> Item:
    """The immutable Item of a stored version (parsed and validated once per process).

    Read without the presentation rule: the version was checked when imported, and a frozen
    form holding it must stay deliverable (forms shuffle per student by default).
    """
    return item_from_content(record.pk, record.content_hash, record.content)


def item_from_content(pk: int, content_hash: str, content: dict[str, Any]) -> Item:
    """The Item of a stored version from its row's pk, content hash and content (cached by pk and hash)."""
    key = (pk, content_hash)
    item = _ITEM_CACHE.get(key)
    if item is None:
        item = Item.from_dict(content, check_presentation=False)
        with _CACHE_LOCK:
            if len(_ITEM_CACHE) > 5000:
                _ITEM_CACHE.clear()
            _ITEM_CACHE[key] = item
    return item


_FORM_CACHE: dict[tuple[Any, ...], list[tuple[int, int, Item]]] = {}


def form_items(session: Session, form: Form) -> list[tuple[int, int, Item]]:
    """(position, item pk, Item) of the form's items in order, in one query.

    A frozen form never changes, so its list is kept per process: serving an
    attempt then reads no item rows at all (the hot path on test day).
    """
    key = (form.id, form.code, form.version, form.created_at)
    cached = _FORM_CACHE.get(key) if form.frozen else None
    if cached is not None:
        return cached
    rows = session.execute(
        select(FormItem.position, ItemRecord)
        .join(ItemRecord, FormItem.item_pk == ItemRecord.pk)
        .where(FormItem.form_id == form.id)
        .order_by(FormItem.position)
    ).all()
    out = [(position, record.pk, delivered_item(record)) for position, record in rows]
    if form.frozen:
        with _CACHE_LOCK:
            if len(_FORM_CACHE) > 1000:
                _FORM_CACHE.clear()
            _FORM_CACHE[key] = out
    return out
