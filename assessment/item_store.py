"""Item bank storage: import validated items (all or nothing), list them, read them back.

The item files are the authoring format; the database is the system of record
for what a form delivers. A published version (stored as pilot, operational or
retired, or used by a form) is immutable and never returns to draft: changing
its content needs a new version number.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank import Item, ItemStatus

from . import audit
from .errors import Conflict
from .models import Form, FormItem, ItemParameterRecord, ItemRecord, ParameterSet

__all__ = ["ImportReport", "import_items", "item_from_record", "items_for_export", "list_item_versions",
           "list_items", "parameter_set_items"]


@dataclass(frozen=True)
class ImportReport:
    """What an import changed."""

    added: int
    updated_drafts: int
    metadata_updated: int
    unchanged: int
    parameters: int
    parameter_sets: tuple[str, ...]


def import_items(session: Session, items: Sequence[Item], *, actor: str, source: str = "") -> ImportReport:
    """Store items and their IRT parameters in the caller's transaction.

    Raises Conflict (and changes nothing, once the caller rolls back) when an
    item would change the content (what a student sees or is scored on, per
    `Item.content_hash`) of a published version, or move one back to draft.
    Published means: stored as pilot, operational or retired, or used by a
    form. Import is the only way a stored status changes and it never returns
    a published version to draft, so a version's status plus its form
    references tell for good whether it was ever published. Status, grades,
    rationale and other metadata may change in place.
    """
    existing = {
        (r.item_id, r.version): r
        for r in session.scalars(select(ItemRecord).where(ItemRecord.item_id.in_([i.id for i in items])))
    }
    in_forms = _forms_using(session, [r.pk for r in existing.values()])
    newest: dict[str, int] = {}
    for item_id, version in [*existing, *((i.id, i.version) for i in items)]:
        newest[item_id] = max(newest.get(item_id, 0), version)
    conflicts = []
    for item in items:
        old = existing.get((item.id, item.version))
        if old is None:
            continue
        published = _published_as(old, in_forms.get(old.pk, ()))
        if published is None:
            continue
        where = f"{item.source or source or 'the import'}: item {item.id} version {item.version}"
        stored = f"stored as {published} (imported from {old.source or 'an earlier import'})"
        next_version = newest[item.id] + 1
        if old.content_hash != item.content_hash():
            conflicts.append(
                f"{where} differs in content from the version {stored}; published versions are immutable: "
                f"give the edited item version {next_version}"
            )
        elif item.status == "draft":
            conflicts.append(
                f"{where} is {stored}; a published version cannot go back to draft (its content stays fixed); "
                f"keep its status, or give a new draft the version {next_version}"
            )
    if conflicts:
        raise Conflict("\n".join(conflicts), code="immutable_version")

    added = updated = relabelled = unchanged = 0
    records: list[tuple[Item, ItemRecord]] = []
    for item in items:
        record = existing.get((item.id, item.version))
        if record is None:
            record = ItemRecord(item_id=item.id, version=item.version)
            session.add(record)
            added += 1
        elif record.content == item.to_dict():
            unchanged += 1
            records.append((item, record))
            continue
        elif record.content_hash == item.content_hash():
            # What students see is the same; status, grades, rationale or metadata changed.
            relabelled += 1
        else:
            updated += 1
        record.type = item.type
        record.dimension = item.dimension
        record.grades = ",".join(str(g) for g in sorted(item.grades))
        record.anchor = item.anchor
        record.status = ItemStatus(item.status)
        record.max_score = item.max_score
        record.content = item.to_dict()
        record.content_hash = item.content_hash()
        record.source = source[:255]
        records.append((item, record))
    session.flush()

    n_params, set_names = _store_parameters(session, records)
    report = ImportReport(added, updated, relabelled, unchanged, n_params, tuple(sorted(set_names)))
    audit.record(
        session, actor, "items.import", source[:128],
        added=added, updated_drafts=updated, metadata_updated=relabelled, unchanged=unchanged, parameters=n_params,
    )
    return report


def _forms_using(session: Session, pks: Sequence[int]) -> dict[int, list[str]]:
    """The forms ("CODE vN") that hold each of these item versions."""
    used: dict[int, list[str]] = {}
    if not pks:
        return used
    rows = session.execute(
        select(FormItem.item_pk, Form.code, Form.version)
        .join(Form, Form.id == FormItem.form_id)
        .where(FormItem.item_pk.in_(pks))
        .order_by(Form.code, Form.version)
    )
    for pk, code, version in rows:
        used.setdefault(pk, []).append(f"{code} v{version}")
    return used


def _published_as(record: ItemRecord, forms: Sequence[str]) -> str | None:
    """How a stored version was published (its status, or the forms using it); None for a free draft."""
    if forms:
        more = f" and {len(forms) - 3} more" if len(forms) > 3 else ""
        return f"{record.status}, used by form {', '.join(forms[:3])}{more}"
    if record.status != "draft":
        return record.status
    return None


def _store_parameters(session: Session, records: list[tuple[Item, ItemRecord]]) -> tuple[int, set[str]]:
    sets: dict[str, ParameterSet] = {}
    count = 0
    for item, record in records:
        irt = item.irt
        if irt is None:
            continue
        pset = sets.get(irt.parameter_set)
        if pset is None:
            pset = session.scalar(select(ParameterSet).where(ParameterSet.name == irt.parameter_set))
            if pset is None:
                pset = ParameterSet(
                    name=irt.parameter_set,
                    provisional="provisional" in irt.parameter_set,
                    description="parameters shipped with the item files",
                )
                session.add(pset)
                session.flush()
            sets[irt.parameter_set] = pset
        row = session.scalar(
            select(ItemParameterRecord).where(
                ItemParameterRecord.parameter_set_id == pset.id, ItemParameterRecord.item_pk == record.pk
            )
        )
        if row is None:
            row = ItemParameterRecord(parameter_set_id=pset.id, item_pk=record.pk)
            session.add(row)
        row.model = irt.model
        row.a = float(irt.a)
        row.d = [float(x) for x in irt.d]
        row.c = float(irt.c or 0.0)
        count += 1
    return count, set(sets)


def list_items(
    session: Session,
    *,
    grade: int | None = None,
    dimension: str | None = None,
    status: str | None = None,
    type: str | None = None,
) -> list[ItemRecord]:
    """The newest version of each item, filtered, ordered by dimension then id."""
    rows = session.scalars(select(ItemRecord).order_by(ItemRecord.item_id, ItemRecord.version.desc())).all()
    latest: dict[str, ItemRecord] = {}
    for row in rows:
        latest.setdefault(row.item_id, row)
    out = []
    for row in latest.values():
        if grade is not None and str(grade) not in row.grades.split(","):
            continue
        if dimension is not None and row.dimension != dimension.upper():
            continue
        if status is not None and row.status != status:
            continue
        if type is not None and row.type != type:
            continue
        out.append(row)
    return sorted(out, key=lambda r: (r.dimension, r.item_id))


def list_item_versions(session: Session) -> list[ItemRecord]:
    """Every stored version of every item (older ones may still be used by frozen forms), by id then version."""
    return list(session.scalars(select(ItemRecord).order_by(ItemRecord.item_id, ItemRecord.version)))


def items_for_export(session: Session, *, actor: str, target: str, all_versions: bool = True) -> list[Item]:
    """The items to export (every stored version, or the newest of each), audited: exports carry secure content."""
    records = list_item_versions(session) if all_versions else list_items(session)
    items = [item_from_record(r) for r in records]
    audit.record(session, actor, "items.export", target[:128], versions=len(items), all_versions=all_versions)
    return items


def item_from_record(record: ItemRecord) -> Item:
    """Rebuild the immutable Item from its stored canonical dict (stored content: no presentation rule)."""
    return Item.from_dict(record.content, check_presentation=False)


def parameter_set_items(session: Session, name: str) -> list[ItemParameterRecord]:
    """All item parameters of a parameter set, by item id."""
    pset = session.scalar(select(ParameterSet).where(ParameterSet.name == name))
    if pset is None:
        return []
    return sorted(pset.parameters, key=lambda p: p.item.item_id)
