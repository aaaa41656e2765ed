"""Calibration runs from the database (issue 11.2): a window's responses -> a draft parameter set.

`start_run` checks the request and records a queued run (audited); `execute_run`
does the work wherever it runs (the RQ worker `ctcensus serve` starts, or the CLI
itself when no worker is there): it reads the window's finished attempts through
the responses export's selection (`select_responses`, so `ctcensus responses export`
+ `ctcensus calibrate FILE` calibrates the very same matrix), calibrates with
`scoring.calibrate`, and only when that succeeds stores the estimates with their
SEs as a draft parameter set (provisional, not published), all in one transaction.

Progress and cancellation go through the run's row: the EM progress callback
writes the iteration at most every `PROGRESS_SECONDS` and asks `should_cancel`
(by default: has someone set `cancel_requested`?); a cancel raises
`RunCancelled` out of the EM loop, and the run ends `cancelled` with nothing stored.
No transaction stays open while the EM runs (SQLite writers would wait on it).
"""
from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from scoring import Calibration, ConvergenceWarning, ScoringInputError, calibrate
from scoring.models import parse_model_name

from . import audit
from .db import utcnow
from .errors import Conflict, InvalidInput, NotFound
from .models import CalibrationRun, ItemParameterRecord, ItemRecord, ParameterSet, TestWindow
from .responses_export import ResponseSelection, check_selection, select_responses
from .results import software_version
from .states import CalibrationStatus

__all__ = ["ANCHOR_MODES", "GROUP_COLUMNS", "MODELS", "PROGRESS_SECONDS", "RunCancelled", "RunRequest",
           "cancel_run", "execute_run", "get_run", "list_runs", "mark_failed", "rerun_request", "run_summary",
           "start_run"]

MODELS = ("auto", "2pl", "1pl", "rasch", "3pl", "grm", "gpcm")
GROUP_COLUMNS = ("grade", "none")
ANCHOR_MODES = ("free", "fixed")
PROGRESS_SECONDS = 0.5
_ACTIVE = (CalibrationStatus.QUEUED, CalibrationStatus.RUNNING)


class RunCancelled(Exception):
    """Raised from the EM progress callback when the run's cancellation was requested."""


@dataclass(frozen=True)
class RunRequest:
    """What a researcher asks for: the data selection and the calibration settings."""

    window: str
    name: str
    grade: int | None = None
    model: str = "auto"
    group_column: str = "grade"
    anchors: str = "free"
    anchor_set: str | None = None
    reference_group: int | None = None
    max_iter: int = 500
    tol: float = 1e-4
    se: bool = True
    exclude: tuple[str, ...] = ()  # item columns left out (a re-run without flagged items)
    rerun_of: int | None = None


def _check_request(session: Session, req: RunRequest) -> tuple[TestWindow, ParameterSet | None]:
    """Every check that needs no response matrix; InvalidInput/NotFound/Conflict name what is wrong."""
    name = req.name.strip()
    if not name or len(name) > 64:
        raise InvalidInput(f"--name: expected a parameter set name of 1 to 64 characters; got {req.name!r}")
    if req.model.lower() != "auto":
        try:
            parse_model_name(req.model, where="--model")
        except ScoringInputError as exc:
            raise InvalidInput(str(exc)) from None
    if req.model.lower() not in MODELS:
        raise InvalidInput(f"--model: expected one of {', '.join(MODELS)}; got {req.model!r}")
    if req.group_column not in GROUP_COLUMNS:
        raise InvalidInput(f"--group-column: expected one of {', '.join(GROUP_COLUMNS)}; got {req.group_column!r}")
    if req.anchors not in ANCHOR_MODES:
        raise InvalidInput(f"--anchors: expected one of {', '.join(ANCHOR_MODES)}; got {req.anchors!r}")
    if req.max_iter < 1 or not req.tol > 0:
        raise InvalidInput(f"--max-iter and --tol must be positive; got {req.max_iter} and {req.tol}")
    window = check_selection(session, req.window, grade=req.grade)
    if session.scalar(select(ParameterSet.id).where(ParameterSet.name == name)) is not None:
        raise Conflict(f"a parameter set named {name!r} exists already; choose another --name")
    busy = session.scalar(select(CalibrationRun.id).where(CalibrationRun.name == name,
                                                          CalibrationRun.status.in_(_ACTIVE)))
    if busy is not None:
        raise Conflict(f"run {busy} is already making parameter set {name!r}; choose another --name or cancel it "
                       f"(ctcensus calibrate --cancel {busy})")
    anchor_set = _anchor_set(session, req) if req.anchors == "fixed" else None
    return window, anchor_set


def _anchor_set(session: Session, req: RunRequest) -> ParameterSet:
    """The set whose values hold the anchors: --anchor-set, else the one published for a base-year window."""
    from .reporting_config import load_reporting_config

    if req.anchor_set is not None:
        pset = session.scalar(select(ParameterSet).where(ParameterSet.name == req.anchor_set))
        if pset is None:
            known = ", ".join(session.scalars(select(ParameterSet.name).order_by(ParameterSet.name))) or "none"
            raise NotFound(f"--anchor-set: no parameter set named {req.anchor_set!r}; known sets: {known}")
        return pset
    base_year = load_reporting_config().base_year
    pset = session.scalar(
        select(ParameterSet).join(TestWindow, TestWindow.parameter_set_id == ParameterSet.id)
        .where(TestWindow.academic_year == base_year).order_by(TestWindow.id).limit(1))
    if pset is None:
        known = ", ".join(session.scalars(select(ParameterSet.name).order_by(ParameterSet.name))) or "none"
        raise InvalidInput(f"--anchors fixed: no parameter set is published for a window of the base year "
                           f"{base_year}, so the base scale's anchor values are unknown; name the set to take them "
                           f"from with --anchor-set (known sets: {known})")
    return pset


def start_run(session: Session, req: RunRequest, actor: str) -> CalibrationRun:
    """Check the request and record a queued run in the caller's transaction (audited)."""
    window, anchor_set = _check_request(session, req)
    settings = {"model": req.model.lower(), "group_column": req.group_column, "anchors": req.anchors,
                "anchor_set": anchor_set.name if anchor_set is not None else None,
                "reference_group": req.reference_group if req.reference_group is not None else "lowest",
                "max_iter": req.max_iter, "tol": req.tol, "se": "louis" if req.se else None,
                "not_reached": "missing", "method": "MML-EM (Bock-Aitkin), 41 nodes on [-6, 6], SQUAREM"}
    selection: dict[str, Any] = {"window": window.code, "grade": req.grade, "rows": "latest finished attempt "
                                 "with an answer per student (ctcensus responses export)"}
    if req.rerun_of is not None:
        selection |= {"rerun_of": req.rerun_of, "exclude": sorted(req.exclude)}
    run = CalibrationRun(name=req.name.strip(), window_id=window.id, status=CalibrationStatus.QUEUED,
                         selection=selection,
                         settings=settings, software_version=software_version(), created_by=actor,
                         progress={"step": "queued"}, message="")
    session.add(run)
    session.flush()
    rerun: dict[str, Any] = {"rerun_of": req.rerun_of, "exclude": sorted(req.exclude)} if req.rerun_of else {}
    audit.record(session, actor, "calibration.start", f"run {run.id}", run_id=run.id, name=run.name,
                 window=window.code, grade=req.grade, model=settings["model"], anchors=req.anchors, **rerun)
    return run


def rerun_request(session: Session, run_id: int, name: str, exclude: Sequence[str]) -> RunRequest:
    """Run `run_id`'s selection and settings again without the `exclude` item columns (flagged items)."""
    run = get_run(session, run_id)
    items = run.selection.get("items")
    if not isinstance(items, list):
        raise InvalidInput(f"--rerun: run {run_id} never read its data ({run.status}); re-run a run that has")
    wanted = tuple(dict.fromkeys(e.strip() for e in exclude if e.strip()))
    if not wanted:
        raise InvalidInput("--exclude: name at least one item to leave out, e.g. --exclude CT-D3-017")
    unknown = [e for e in wanted if e not in items]
    if unknown:
        raise InvalidInput(f"--exclude: item {unknown[0]!r} is not in run {run_id}; its items: {', '.join(items)}")
    if len(wanted) >= len(items):
        raise InvalidInput(f"--exclude: that leaves none of run {run_id}'s {len(items)} items to calibrate")
    s = run.settings
    ref = s.get("reference_group")
    return RunRequest(window=run.window.code, name=name, grade=run.selection.get("grade"), model=s["model"],
                      group_column=s["group_column"], anchors=s["anchors"], anchor_set=s.get("anchor_set"),
                      reference_group=None if ref in (None, "lowest") else int(ref), max_iter=int(s["max_iter"]),
                      tol=float(s["tol"]), se=s.get("se") is not None,
                      exclude=tuple(sorted(set(wanted) | set(run.selection.get("exclude") or []))), rerun_of=run.id)


def get_run(session: Session, run_id: int) -> CalibrationRun:
    """A run by id, or NotFound naming the command that lists them."""
    run = session.get(CalibrationRun, run_id)
    if run is None:
        raise NotFound(f"no calibration run {run_id}; list them with `ctcensus calibrate --list`")
    return run


def list_runs(session: Session, window_code: str | None = None) -> list[CalibrationRun]:
    """Calibration runs, newest first (of one window when given)."""
    query = select(CalibrationRun).order_by(CalibrationRun.id.desc())
    if window_code is not None:
        query = query.join(TestWindow, CalibrationRun.window_id == TestWindow.id).where(TestWindow.code == window_code)
    return list(session.scalars(query))


def cancel_run(session: Session, run_id: int, actor: str) -> CalibrationRun:
    """Ask a run to stop (audited): a queued run is cancelled at once, a running one at its next EM iteration."""
    run = get_run(session, run_id)
    if run.status.finished:
        raise Conflict(f"calibration run {run_id} has already ended ({run.status}); nothing to cancel")
    run.cancel_requested = True
    if run.status == CalibrationStatus.QUEUED:
        run.status = CalibrationStatus.CANCELLED
        run.finished_at = utcnow()
        run.message = f"cancelled by {actor} before it started"
    audit.record(session, actor, "calibration.cancel", f"run {run.id}", run_id=run.id, name=run.name,
                 status=str(run.status))
    return run


def mark_failed(session: Session, run_id: int, message: str) -> CalibrationRun:
    """End a run that can no longer finish (its job was lost) as failed, unless it has ended already."""
    run = get_run(session, run_id)
    if not run.status.finished:
        run.status, run.finished_at, run.message = CalibrationStatus.FAILED, utcnow(), message
        run.progress = {"step": "failed"}
    return run


def run_summary(run: CalibrationRun) -> dict[str, Any]:
    """A run as plain data (CLI output, JSON)."""
    return {"run": run.id, "name": run.name, "window": run.window.code, "grade": run.selection.get("grade"),
            "status": str(run.status), "settings": run.settings, "selection": run.selection,
            "software_version": run.software_version, "created_by": run.created_by,
            "created_at": run.created_at.isoformat(),
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "progress": run.progress, "message": run.message, "result": run.result,
            "parameter_set": run.parameter_set.name if run.parameter_set is not None else None}


# --- the work -------------------------------------------------------------------------------------------


def _update(factory: sessionmaker[Session], run_id: int, **values: Any) -> None:
    with factory() as session, session.begin():
        run = session.get(CalibrationRun, run_id)
        if run is None:
            raise NotFound(f"no calibration run {run_id}")
        for key, value in values.items():
            setattr(run, key, value)


def _cancel_requested(factory: sessionmaker[Session], run_id: int) -> bool:
    with factory() as session:
        flag = session.scalar(select(CalibrationRun.cancel_requested).where(CalibrationRun.id == run_id))
        session.rollback()
        return bool(flag)


def _fixed_anchors(session: Session, settings: dict[str, Any], selection: ResponseSelection) -> dict[str, Any] | None:
    """{column name: anchor values} of the anchor items in the selection, from the run's anchor set."""
    name = settings.get("anchor_set")
    if settings.get("anchors") != "fixed" or name is None:
        return None
    pset = session.scalar(select(ParameterSet).where(ParameterSet.name == name))
    if pset is None:
        raise InvalidInput(f"--anchor-set: parameter set {name!r} no longer exists")
    pks = selection.item_pks.tolist()
    anchors = set(session.scalars(select(ItemRecord.pk).where(ItemRecord.pk.in_(pks), ItemRecord.anchor.is_(True))))
    values = {r.item_pk: r for r in session.scalars(select(ItemParameterRecord).where(
        ItemParameterRecord.parameter_set_id == pset.id, ItemParameterRecord.item_pk.in_(anchors)))}
    fixed = {selection.item_ids[j]: {"model": values[pk].model, "a": values[pk].a, "d": list(values[pk].d),
                                     "c": values[pk].c or 0.0}
             for j, pk in enumerate(pks) if pk in values}
    if not fixed:
        raise InvalidInput(f"--anchors fixed: parameter set {name!r} has values for none of the "
                           f"{len(anchors)} anchor items in the data; use --anchors free or another --anchor-set")
    return fixed


def _without(selection: ResponseSelection, exclude: Sequence[str]) -> ResponseSelection:
    """The selection minus the excluded item columns (a re-run), rows unchanged."""
    if not exclude:
        return selection
    keep = [j for j, name in enumerate(selection.item_ids) if name not in set(exclude)]
    return dataclasses.replace(selection, item_pks=selection.item_pks[keep],
                               item_ids=tuple(selection.item_ids[j] for j in keep), item_max=selection.item_max[keep],
                               scores=selection.scores[:, keep], status=selection.status[:, keep])


def _nan_none(values: Any) -> Any:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        return None if np.isnan(arr) else float(arr)
    return [None if np.isnan(v) else float(v) for v in arr.tolist()]


def _store(session: Session, run: CalibrationRun, selection: ResponseSelection, res: Calibration,
           fixed: dict[str, Any] | None) -> ParameterSet:
    """The draft parameter set (estimates and SEs per item version) and the group distributions."""
    labels = [lab if not isinstance(lab, np.generic) else lab.item() for lab in res.group_labels]
    grouped = run.settings.get("group_column") == "grade" and selection.grade is None
    groups = [{"group": str(lab) if grouped else "all", "mean": float(res.group_means[g]),
               "sd": float(res.group_sds[g]), "se_mean": _nan_none(res.se_group_means[g]),
               "se_sd": _nan_none(res.se_group_sds[g]), "n": int(res.group_n[g])} for g, lab in enumerate(labels)]
    grade = f" grade {selection.grade}" if selection.grade is not None else ""
    origin = {"kind": "calibration", "run": run.id} | (
        {"rerun_of": run.selection["rerun_of"], "excluded": run.selection.get("exclude", [])}
        if run.selection.get("rerun_of") else {})
    pset = ParameterSet(name=run.name, provisional=True, published=False, groups=groups, origin=origin,
                        description=f"calibration run {run.id}: window {selection.window_code}{grade}, "
                                    f"{run.settings['model']}, anchors {run.settings['anchors']} (draft)")
    session.add(pset)
    session.flush()
    rows = []
    for j, pk in enumerate(selection.item_pks.tolist()):
        d = res.d[j][~np.isnan(res.d[j])]
        se_d = res.se_d[j][: d.size]
        held = fixed is not None and selection.item_ids[j] in fixed
        rows.append(ItemParameterRecord(
            parameter_set_id=pset.id, item_pk=int(pk), model=res.model[j], a=float(res.a[j]),
            d=[float(v) for v in d], c=float(res.c[j]),
            se={"a": _nan_none(res.se_a[j]), "d": _nan_none(se_d), "c": _nan_none(res.se_c[j]), "fixed": held}))
    session.add_all(rows)
    session.flush()
    return pset


def execute_run(
    factory: sessionmaker[Session],
    run_id: int,
    *,
    secret_key: str,
    should_cancel: Callable[[int], bool] | None = None,
    analyse: bool = True,
) -> CalibrationStatus:
    """Run a queued calibration to its end (done, failed or cancelled) and return how it ended.

    `should_cancel(iteration)` is asked after every EM iteration; by default it
    reads the run's `cancel_requested` at most every `PROGRESS_SECONDS`. A run that
    ends done then gets its item statistics stored (`analyse`; see
    `item_analysis_store`): the parameter set is committed first, and a failure of the
    analysis leaves the run done, with a note in its message.
    """
    with factory() as session, session.begin():
        run = session.get(CalibrationRun, run_id)
        if run is None:
            raise NotFound(f"no calibration run {run_id}")
        if run.status != CalibrationStatus.QUEUED:
            return run.status  # cancelled while queued, or taken by another worker
        if run.cancel_requested:
            run.status, run.finished_at = CalibrationStatus.CANCELLED, utcnow()
            return run.status
        run.status, run.started_at = CalibrationStatus.RUNNING, utcnow()
        run.progress = {"step": "reading responses"}
        settings, name, window_code = dict(run.settings), run.name, run.window.code
        base_selection = dict(run.selection)
    last = {"write": 0.0, "poll": time.monotonic()}

    def default_cancel(iteration: int) -> bool:
        now = time.monotonic()
        if now - last["poll"] < PROGRESS_SECONDS:
            return False
        last["poll"] = now
        return _cancel_requested(factory, run_id)

    cancel = should_cancel or default_cancel
    started = time.perf_counter()
    try:
        with factory() as session:
            selection = _without(select_responses(session, window_code, secret_key=secret_key,
                                                  grade=base_selection.get("grade")),
                                 base_selection.get("exclude") or [])
            fixed = _fixed_anchors(session, settings, selection)
            session.rollback()  # no transaction stays open during the EM
        read_seconds = time.perf_counter() - started
        _update(factory, run_id, progress={"step": "calibrating", "iteration": 0},
                selection=base_selection | {"rows": selection.n_rows, "items": list(selection.item_ids),
                                            "grades": sorted(set(selection.grades.tolist()))})

        def progress(iteration: int, loglik: float, change: float) -> None:
            now = time.monotonic()
            if now - last["write"] >= PROGRESS_SECONDS:
                last["write"] = now
                _update(factory, run_id, progress={"step": "calibrating", "iteration": iteration,
                                                   "loglik": float(loglik), "change": float(change),
                                                   "max_iter": settings["max_iter"]})
            if cancel(iteration):
                raise RunCancelled(f"run {run_id} cancelled at EM iteration {iteration}")

        groups = selection.grades if settings["group_column"] == "grade" and selection.grade is None else None
        ref = settings.get("reference_group")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            res = calibrate(selection.cells(), settings["model"], groups=groups,
                            reference_group=None if ref in (None, "lowest") else ref, fixed=fixed,
                            item_names=selection.item_ids, max_iter=settings["max_iter"], tol=settings["tol"],
                            se=settings["se"] is not None, progress=progress)
        calibrate_seconds = time.perf_counter() - started - read_seconds
        notes = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
        with factory() as session, session.begin():
            run = session.get(CalibrationRun, run_id)
            assert run is not None
            if run.cancel_requested:
                raise RunCancelled(f"run {run_id} cancelled before its parameter set was stored")
            pset = _store(session, run, selection, res, fixed)
            run.parameter_set_id = pset.id
            run.status, run.finished_at = CalibrationStatus.DONE, utcnow()
            run.message = "\n".join(notes)
            run.progress = {"step": "done", "iteration": res.n_iter, "loglik": res.loglik}
            run.result = {
                "n_persons": res.n_persons, "n_items": res.params.n_items, "n_fixed": len(fixed or {}),
                "converged": res.converged, "n_iter": res.n_iter, "loglik": res.loglik, "aic": res.aic,
                "bic": res.bic, "n_parameters": res.n_parameters, "se_method": res.se_method,
                "groups": pset.groups, "warnings": notes,
                "seconds": {"read": round(read_seconds, 3), "calibrate": round(calibrate_seconds, 3),
                            "total": round(time.perf_counter() - started, 3)}}
            if analyse:
                run.result["item_analysis"] = {"state": "pending"}
            audit.record(session, run.created_by, "calibration.done", f"run {run.id}", run_id=run.id,
                         parameter_set=pset.name, converged=res.converged)
    except KeyboardInterrupt:  # Ctrl+C of a run in the CLI's own process
        _update(factory, run_id, status=CalibrationStatus.CANCELLED, finished_at=utcnow(), message="interrupted",
                progress={"step": "cancelled"})
        raise
    except RunCancelled as exc:
        _update(factory, run_id, status=CalibrationStatus.CANCELLED, finished_at=utcnow(), message=str(exc),
                progress={"step": "cancelled"})
        return CalibrationStatus.CANCELLED
    except IntegrityError:
        _update(factory, run_id, status=CalibrationStatus.FAILED, finished_at=utcnow(),
                message=f"a parameter set named {name!r} was stored meanwhile; nothing stored",
                progress={"step": "failed"})
        return CalibrationStatus.FAILED
    except ValueError as exc:  # ScoringInputError, InvalidInput: the data or settings do not fit
        message = exc.message if isinstance(exc, InvalidInput) else str(exc)
        _update(factory, run_id, status=CalibrationStatus.FAILED, finished_at=utcnow(), message=message,
                progress={"step": "failed"})
        return CalibrationStatus.FAILED
    except BaseException as exc:
        _update(factory, run_id, status=CalibrationStatus.FAILED, finished_at=utcnow(),
                message=f"{type(exc).__name__}: {exc}", progress={"step": "failed"})
        raise
    if analyse:  # outside the handlers above: whatever happens here, the run stays done
        from .item_analysis_store import store_after_run  # it reads runs through this module

        store_after_run(factory, run_id, secret_key=secret_key)
    return CalibrationStatus.DONE
