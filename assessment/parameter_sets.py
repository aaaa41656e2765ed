"""Parameter sets for researchers (issue 11.4): list them, read one as arrays, compare two, export one.

A set's origin is the item files (no `origin`), a calibration run (`ctcensus
calibrate --window`) or a link onto a base set (`assessment.parameter_linking`);
its status is draft, or published for one or more windows (`TestWindow.parameter_set_id`,
set by `assessment.parameter_publishing`). The export writes exactly the files
the file-based `ctcensus calibrate` writes (`scoring.csvio`), so `ctcensus score
--params FILE.csv` reads it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from scoring import ItemParameters
from scoring.csvio import write_group_rows, write_params_csv

from .errors import InvalidInput, NotFound
from .models import CalibrationRun, ItemParameterRecord, ParameterSet, TestWindow

__all__ = [
    "ComparedItem",
    "Comparison",
    "SetArrays",
    "compare_sets",
    "get_set",
    "get_set_by_id",
    "list_sets",
    "set_arrays",
    "set_summary",
    "write_set_csv",
]


def _known(session: Session) -> str:
    return ", ".join(session.scalars(select(ParameterSet.name).order_by(ParameterSet.name))) or "none"


def get_set(session: Session, name: str) -> ParameterSet:
    """A set by name, or NotFound listing the known names."""
    pset = session.scalar(select(ParameterSet).where(ParameterSet.name == name))
    if pset is None:
        raise NotFound(f"no parameter set named {name!r}; known sets: {_known(session)} (ctcensus params list)")
    return pset


def get_set_by_id(session: Session, set_id: int) -> ParameterSet:
    """A set by id, or NotFound."""
    pset = session.get(ParameterSet, set_id)
    if pset is None:
        raise NotFound(f"no parameter set {set_id}; see the list of sets")
    return pset


def _origin(pset: ParameterSet, run_ids: dict[int, int]) -> dict[str, Any]:
    if pset.origin:
        return dict(pset.origin)
    if pset.id in run_ids:
        return {"kind": "calibration", "run": run_ids[pset.id]}
    return {"kind": "items"}


def origin_text(origin: dict[str, Any]) -> str:
    """One line for people: item files / calibration run N / linked from X onto Y."""
    if origin["kind"] == "calibration":
        rerun = f", re-run of run {origin['rerun_of']}" if origin.get("rerun_of") else ""
        return f"calibration run {origin['run']}{rerun}"
    if origin["kind"] == "link":
        return f"linked from {origin['from']} onto {origin['base']} ({origin['method']})"
    return "item files"


def set_summary(session: Session, pset: ParameterSet, *, run_ids: dict[int, int] | None = None,
                windows: dict[int, list[str]] | None = None) -> dict[str, Any]:
    """A set as plain data: origin, models, item count, created, status, groups (CLI JSON, pages)."""
    if run_ids is None:
        run_id = session.scalar(select(CalibrationRun.id).where(CalibrationRun.parameter_set_id == pset.id).limit(1))
        run_ids = {} if run_id is None else {pset.id: run_id}
    if windows is None:
        windows = {pset.id: list(session.scalars(select(TestWindow.code).where(
            TestWindow.parameter_set_id == pset.id).order_by(TestWindow.code)))}
    models: dict[str, int] = {}
    for rec in pset.parameters:
        models[rec.model] = models.get(rec.model, 0) + 1
    codes = windows.get(pset.id, [])
    origin = _origin(pset, run_ids)
    return {"id": pset.id, "name": pset.name, "origin": origin, "origin_text": origin_text(origin),
            "models": dict(sorted(models.items())), "items": len(pset.parameters),
            "created_at": pset.created_at.isoformat(), "provisional": pset.provisional,
            "status": f"published for window {', '.join(codes)}" if codes else "draft",
            "published_for": codes, "groups": pset.groups or [], "description": pset.description}


def list_sets(session: Session) -> list[dict[str, Any]]:
    """Every set, newest first, as `set_summary` rows (three queries, whatever the number of sets)."""
    sets = list(session.scalars(select(ParameterSet).options(selectinload(ParameterSet.parameters))
                                .order_by(ParameterSet.id.desc())))
    run_ids = {set_id: run_id for set_id, run_id in session.execute(
        select(CalibrationRun.parameter_set_id, CalibrationRun.id).where(CalibrationRun.parameter_set_id.is_not(None)))
        if set_id is not None}
    windows: dict[int, list[str]] = {}
    for set_id, code in session.execute(select(TestWindow.parameter_set_id, TestWindow.code)
                                        .where(TestWindow.parameter_set_id.is_not(None)).order_by(TestWindow.code)):
        if set_id is not None:
            windows.setdefault(set_id, []).append(code)
    return [set_summary(session, p, run_ids=run_ids, windows=windows) for p in sets]


@dataclass(frozen=True, eq=False)
class SetArrays:
    """A stored set as the scoring core's arrays, in item-id order, with its SEs (NaN = not estimated)."""

    params: ItemParameters
    item_pks: tuple[int, ...]
    anchors: tuple[bool, ...]
    versions: tuple[int, ...]
    se_a: NDArray[np.float64]
    se_d: NDArray[np.float64]
    se_c: NDArray[np.float64]


def _floats(values: Any, size: int) -> NDArray[np.float64]:
    out = np.full(size, np.nan)
    if values is None:
        return out
    vals = np.atleast_1d(np.asarray([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=np.float64))
    out[: min(size, vals.size)] = vals[:size]
    return out


def set_arrays(session: Session, pset: ParameterSet) -> SetArrays:
    """The set's items as `ItemParameters` named by item id (id-vN when it holds two versions of one item)."""
    records = sorted(session.scalars(select(ItemParameterRecord).options(selectinload(ItemParameterRecord.item))
                                     .where(ItemParameterRecord.parameter_set_id == pset.id)),
                     key=lambda r: (r.item.item_id, r.item.version))
    if not records:
        raise InvalidInput(f"parameter set {pset.name!r} holds no item parameters")
    ids = [r.item.item_id for r in records]
    names = tuple(f"{r.item.item_id}-v{r.item.version}" if ids.count(r.item.item_id) > 1 else r.item.item_id
                  for r in records)
    km1 = max(len(r.d) for r in records)
    d = np.full((len(records), km1), np.nan)
    se_d = np.full((len(records), km1), np.nan)
    for j, r in enumerate(records):
        d[j, : len(r.d)] = r.d
        se_d[j, : len(r.d)] = _floats((r.se or {}).get("d"), len(r.d))
    params = ItemParameters(tuple(r.model for r in records), np.array([r.a for r in records]), d,
                            np.array([r.c or 0.0 for r in records]), names)
    se_a = np.array([_floats((r.se or {}).get("a"), 1)[0] for r in records])
    se_c = np.array([_floats((r.se or {}).get("c"), 1)[0] for r in records])
    return SetArrays(params, tuple(r.item_pk for r in records), tuple(r.item.anchor for r in records),
                     tuple(r.item.version for r in records), se_a, se_d, se_c)


# --- compare ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComparedItem:
    """One item in both sets: each parameter in A and B and B - A (b = -d / a, the IRT thresholds)."""

    item: str
    model_a: str
    model_b: str
    a: tuple[float, float, float]
    b: tuple[tuple[float, float, float], ...]
    c: tuple[float, float, float]
    d: tuple[tuple[float, float, float], ...]


@dataclass(frozen=True)
class Comparison:
    """Two sets item by item, the items only one holds, and the mean and RMSE of the differences B - A."""

    set_a: str
    set_b: str
    items: tuple[ComparedItem, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    summary: dict[str, Any]

    def rows(self) -> list[dict[str, Any]]:
        """One row per common item and parameter (CSV, JSON)."""
        out: list[dict[str, Any]] = []
        for it in self.items:
            params = [("a", it.a), ("c", it.c)] + [(f"b{k + 1}", v) for k, v in enumerate(it.b)] \
                + [(f"d{k + 1}", v) for k, v in enumerate(it.d)]
            for name, (va, vb, diff) in params:
                out.append({"item": it.item, "parameter": name, self.set_a: va, self.set_b: vb, "difference": diff})
        return out


def _triples(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[tuple[float, float, float], ...]:
    return tuple((float(u), float(v), float(v - u)) for u, v in zip(x, y, strict=True) if np.isfinite(u)
                 and np.isfinite(v))


def _stats(diffs: list[float]) -> dict[str, float | int | None]:
    arr = np.asarray(diffs, dtype=np.float64)
    if arr.size == 0:
        return {"n": 0, "mean": None, "rmse": None}
    return {"n": int(arr.size), "mean": float(arr.mean()), "rmse": float(np.sqrt(np.mean(arr**2)))}


def compare_sets(session: Session, name_a: str, name_b: str) -> Comparison:
    """Every parameter of the items both sets hold (matched by item id and version), B - A, and a summary."""
    if name_a == name_b:
        raise InvalidInput(f"compare: give two different sets; got {name_a!r} twice")
    sa, sb = set_arrays(session, get_set(session, name_a)), set_arrays(session, get_set(session, name_b))
    key_a = {(pk): j for j, pk in enumerate(sa.item_pks)}
    key_b = {(pk): j for j, pk in enumerate(sb.item_pks)}
    common = [pk for pk in sa.item_pks if pk in key_b]
    pa, pb = sa.params, sb.params
    ba, bb = pa.b, pb.b
    items: list[ComparedItem] = []
    diff_a: list[float] = []
    diff_b: list[float] = []
    for pk in common:
        i, k = key_a[pk], key_b[pk]
        width = max(pa.d.shape[1], pb.d.shape[1])
        da, db_ = np.full(width, np.nan), np.full(width, np.nan)
        da[: pa.d.shape[1]], db_[: pb.d.shape[1]] = pa.d[i], pb.d[k]
        ta, tb = np.full(width, np.nan), np.full(width, np.nan)
        ta[: ba.shape[1]], tb[: bb.shape[1]] = ba[i], bb[k]
        item = ComparedItem(item=pa.item_names[i], model_a=pa.model[i], model_b=pb.model[k],
                            a=(float(pa.a[i]), float(pb.a[k]), float(pb.a[k] - pa.a[i])),
                            c=(float(pa.c[i]), float(pb.c[k]), float(pb.c[k] - pa.c[i])),
                            b=_triples(ta, tb), d=_triples(da, db_))
        items.append(item)
        diff_a.append(item.a[2])
        diff_b.extend(t[2] for t in item.b)
    summary = {"common": len(common), "discrimination": _stats(diff_a), "difficulty": _stats(diff_b)}
    return Comparison(name_a, name_b, tuple(items),
                      tuple(pa.item_names[key_a[pk]] for pk in sa.item_pks if pk not in key_b),
                      tuple(pb.item_names[key_b[pk]] for pk in sb.item_pks if pk not in key_a), summary)


# --- export ----------------------------------------------------------------------------------------------


def write_set_csv(session: Session, pset: ParameterSet, params_path: Path, groups_path: Path) -> int:
    """The set in `ctcensus calibrate`'s files: PARAMS.csv and PARAMS.groups.csv; returns the number of items.

    A set without group distributions (item files) gets one row `all` N(0, 1), as
    `calibrate` writes for a single-group calibration.
    """
    arrays = set_arrays(session, pset)
    write_params_csv(params_path, arrays.params, se=(arrays.se_a, arrays.se_d, arrays.se_c))
    groups = pset.groups or [{"group": "all", "mean": 0.0, "sd": 1.0, "se_mean": None, "se_sd": None, "n": 0}]

    def col(key: str) -> list[float]:
        return [np.nan if g.get(key) is None else float(g[key]) for g in groups]

    write_group_rows(groups_path, [str(g["group"]) for g in groups], col("mean"), col("sd"), col("se_mean"),
                     col("se_sd"), [int(g.get("n") or 0) for g in groups])
    return arrays.params.n_items
