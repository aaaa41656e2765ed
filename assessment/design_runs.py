"""Design simulations (issue 11.5): a design from the item bank, the report as JSON and a table, the queued job.

The numerics are `scoring.design.simulate_design`; this module builds its
input from the bank's forms and a stored parameter set (`bank_design`) or a
design file (`design_file.parse_design`), turns the report into plain data
(`report_dict`, `item_table`), audits each run, and runs long simulations as
jobs on the research queue (`queue_design`, `design_job`, `design_job_state`).
The job keeps its progress in RQ's job meta and its report as the job's result
for a day: a simulation stores nothing in the database (no migration).
"""
from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring.design import DesignError, DesignForm, DesignReport, DesignSpec, simulate_design
from scoring.models import ItemParameters

from . import audit
from .config import Settings
from .design_file import MAX_REPLICATIONS, MAX_STUDENTS, design_document, design_from_document
from .errors import InvalidInput, NotFound
from .forms import form_items, get_form, operational_forms
from .jobs import JOB_TIMEOUT_SECONDS, calibration_queue, queue_name
from .models import Form, ItemParameterRecord, ParameterSet
from .results import PROVISIONAL_SET

__all__ = ["INLINE_SECONDS", "ITEM_COLUMNS", "DesignJobState", "bank_design", "design_choices", "design_job", "design_job_state", "estimated_seconds",
           "item_table_rows", "queue_design", "record_design", "report_dict", "run_design"]

INLINE_SECONDS = 2.0  # longer simulations go to the research queue
_SECONDS_PER_CELL = 4e-6  # per student x item x replication (measured: docs/design-simulation.md)
RESULT_TTL = 86400
ITEM_COLUMNS = ("item", "parameter", "true", "mean", "bias", "sd", "rmse")
DEFAULT_GRADE8 = (0.8, 1.0)  # DESIGN: grade 8 above grade 5 (the demo census draws the same)


def estimated_seconds(spec: DesignSpec) -> float:
    """A rough running time: replications x students x items."""
    return spec.replications * spec.n_students * spec.params.n_items * _SECONDS_PER_CELL


def _bank_forms(session: Session, form_ids: Sequence[int] | None) -> list[Form]:
    """The given forms, else each grade's newest operational form with its sibling booklets."""
    if form_ids:
        return [get_form(session, int(f)) for f in form_ids]
    chosen: list[Form] = []
    for grade in (5, 8):
        forms = operational_forms(session, grade)
        if not forms:
            raise NotFound(f"no operational grade-{grade} form in the bank; build one (`ctcensus forms build "
                           f"--grade {grade}`) or give --form IDs")
        newest = forms[0]
        family = newest.code[:-2] if newest.blueprint.get("booklet") else newest.code
        latest: dict[str, Form] = {}
        for f in forms:
            same = f.code == family or (f.code.startswith(family + "-") and len(f.code) == len(family) + 2)
            same = same and f.blueprint.get("booklets") == newest.blueprint.get("booklets")
            if same and (f.code not in latest or f.version > latest[f.code].version):
                latest[f.code] = f
        chosen.extend(sorted(latest.values(), key=lambda f: f.code))
    return chosen


def _grade_populations(pset: ParameterSet) -> dict[int, tuple[float, float]]:
    """Grade means/SDs stored with a calibrated set (`groups`), where present."""
    out: dict[int, tuple[float, float]] = {}
    for g in pset.groups or []:
        try:
            out[int(g["group"])] = (float(g["mean"]), float(g["sd"]))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def bank_design(session: Session, *, n_per_grade: Mapping[int, int], schools: Mapping[int, int],
                replications: int = 20, seed: int = 1, icc: float = 0.15, form_ids: Sequence[int] | None = None,
                parameter_set: str | None = None) -> DesignSpec:
    """A design from the bank's forms and a stored parameter set (the named one, else the provisional one)."""
    name = parameter_set or PROVISIONAL_SET
    pset = session.scalar(select(ParameterSet).where(ParameterSet.name == name))
    if pset is None:
        known = ", ".join(session.scalars(select(ParameterSet.name).order_by(ParameterSet.name))) or "none"
        raise NotFound(f"--parameter-set: no parameter set named {name!r}; known sets: {known}")
    forms = _bank_forms(session, form_ids)
    layouts = {f.id: [(pk, item.id) for _, pk, item in form_items(session, f)] for f in forms}
    pks = sorted({pk for rows in layouts.values() for pk, _ in rows})
    records = {r.item_pk: r for r in session.scalars(select(ItemParameterRecord).where(
        ItemParameterRecord.parameter_set_id == pset.id, ItemParameterRecord.item_pk.in_(pks)))}
    missing = sorted({item for rows in layouts.values() for pk, item in rows if pk not in records})
    if missing:
        raise InvalidInput(f"--parameter-set {name}: no parameters for {', '.join(missing[:10])}"
                           f"{' ...' if len(missing) > 10 else ''}; choose a set that holds every item of the forms")
    by_item: dict[str, ItemParameterRecord] = {}
    for rows in layouts.values():
        for pk, item in rows:
            by_item.setdefault(item, records[pk])
    ids = sorted(by_item)
    width = max(len(by_item[i].d) for i in ids)
    d = [[float(x) for x in by_item[i].d] + [math.nan] * (width - len(by_item[i].d)) for i in ids]
    params = ItemParameters(tuple(by_item[i].model for i in ids), np.array([by_item[i].a for i in ids]), np.array(d),
                            np.array([by_item[i].c or 0.0 for i in ids]), item_names=tuple(ids))
    design_forms = tuple(DesignForm(f"{f.code} v{f.version}", f.grade, tuple(i for _, i in layouts[f.id]))
                         for f in forms)
    grades_of: dict[str, set[int]] = {}
    for f in design_forms:
        for i in f.items:
            grades_of.setdefault(i, set()).add(f.grade)
    populations = _grade_populations(pset)
    grades = sorted({f.grade for f in design_forms})
    means = {g: populations.get(g, (0.0, 1.0) if g == grades[0] else DEFAULT_GRADE8)[0] for g in grades}
    sds = {g: populations.get(g, (0.0, 1.0) if g == grades[0] else DEFAULT_GRADE8)[1] for g in grades}
    for label, mapping, cap in (("--n-grade", n_per_grade, MAX_STUDENTS), ("--schools", schools, MAX_STUDENTS)):
        for g in grades:
            value = mapping.get(g)
            if value is None or not 1 <= int(value) <= cap:
                raise InvalidInput(f"{label}{g if label == '--n-grade' else ''}: expected a whole number from 1 "
                                   f"to {cap} for grade {g}; got {value!r}")
    if not 2 <= replications <= MAX_REPLICATIONS:
        raise InvalidInput(f"--replications: expected 2 to {MAX_REPLICATIONS}; got {replications}")
    try:
        return DesignSpec(forms=design_forms, anchors=tuple(sorted(i for i, g in grades_of.items() if len(g) > 1)),
                          params=params, n_per_grade={g: int(n_per_grade[g]) for g in grades},
                          schools={g: int(schools[g]) for g in grades}, icc=icc, grade_means=means, grade_sds=sds,
                          replications=replications, seed=seed)
    except DesignError as exc:
        raise InvalidInput(str(exc)) from None


def run_design(spec: DesignSpec, progress: Any = None) -> DesignReport:
    """Simulate; a design the data cannot support becomes InvalidInput (4xx / CLI error)."""
    try:
        return simulate_design(spec, progress)
    except DesignError as exc:
        raise InvalidInput(str(exc)) from None


def record_design(session: Session, actor: str, spec: DesignSpec, source: str, *, ip: str = "",
                  job_id: str | None = None) -> None:
    """Audit a simulation run (who, which design, how big)."""
    audit.record(session, actor, "design.simulate", source[:128], ip=ip, forms=[f.name for f in spec.forms],
                 students={str(g): int(n) for g, n in spec.n_per_grade.items()},
                 schools={str(g): int(n) for g, n in spec.schools.items()}, replications=spec.replications,
                 seed=spec.seed, icc=spec.icc, job=job_id)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, mapping keys strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def report_dict(report: DesignReport) -> dict[str, Any]:
    """The report as plain JSON-safe data (the CLI's --json, the job's result, the page's input)."""
    data = {
        "replications": report.replications, "converged": report.converged, "method": report.method,
        "n_per_grade": dict(report.n_per_grade), "school_sizes": {g: list(s) for g, s in report.school_sizes.items()},
        "summary": [asdict(s) for s in report.summary],
        "groups": [asdict(g) | {"half_width_95": g.half_width_95} for g in report.groups],
        "grade_difference": [asdict(g) | {"half_width_95": g.half_width_95} for g in report.differences],
        "schools": [asdict(s) for s in report.schools],
        "pairs_detectable": dict(report.pairs_detectable),
        "items": [asdict(r) for r in report.items],
        "warnings": list(report.warnings),
    }
    return dict(_clean(data))


def item_table_rows(report: Mapping[str, Any]) -> list[list[Any]]:
    """The per-item recovery table (columns ITEM_COLUMNS) of a report dict."""
    return [[r[c] for c in ITEM_COLUMNS] for r in report["items"]]


# --- the queued job ---------------------------------------------------------------------------------------

_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,120}\Z")


@dataclass(frozen=True)
class DesignJobState:
    """Where a queued simulation is: status, replications done of total, and its report or error when done."""

    job_id: str
    status: str  # queued, running, done, failed
    done: int
    total: int
    report: dict[str, Any] | None
    error: str | None
    source: str


def queue_design(settings: Settings, spec: DesignSpec, actor: str, source: str) -> str:
    """Queue a simulation on the research queue; returns its job id (unguessable)."""
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", queue_name())
    job = calibration_queue(settings).enqueue(
        design_job, design_document(spec), job_id=f"{prefix}-design-{uuid.uuid4().hex}",
        description=f"design simulation ({source})", result_ttl=RESULT_TTL, failure_ttl=RESULT_TTL,
        job_timeout=JOB_TIMEOUT_SECONDS,
        meta={"actor": actor, "source": source, "done": 0, "total": spec.replications})
    return str(job.id)


def design_job(document: dict[str, Any]) -> dict[str, Any]:
    """What the worker runs: the simulation, with progress in the job's meta; a refused design is an error result."""
    job = get_current_job()

    def progress(done: int, total: int) -> None:
        if job is not None:
            job.meta.update(done=done, total=total)
            job.save_meta()

    try:
        report = simulate_design(design_from_document(document, "design"), progress)
    except (DesignError, InvalidInput) as exc:
        return {"error": str(exc)}
    return {"report": report_dict(report)}


def design_job_state(settings: Settings, job_id: str) -> DesignJobState:
    """The state of a queued simulation, or NotFound (unknown, expired or not a design job)."""
    if not _JOB_ID.match(job_id) or "-design-" not in job_id:
        raise NotFound("no such simulation; it may have expired (reports are kept a day): run it again")
    try:
        job = Job.fetch(job_id, connection=calibration_queue(settings).connection)
    except NoSuchJobError:
        raise NotFound("no such simulation; it may have expired (reports are kept a day): run it again") from None
    status = job.get_status()
    meta = job.meta or {}
    report = error = None
    if status == JobStatus.FINISHED:
        result = job.return_value() or {}
        report, error = result.get("report"), result.get("error")
        state = "failed" if error else "done"
    elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        latest = job.latest_result()
        lines = (latest.exc_string or "").strip().splitlines() if latest is not None else []
        state, error = "failed", (lines[-1] if lines else "the simulation failed")
    else:
        state = "running" if status == JobStatus.STARTED else "queued"
    return DesignJobState(job_id, state, int(meta.get("done", 0)), int(meta.get("total", 0)), report, error,
                          str(meta.get("source", "")))


def design_choices(session: Session) -> dict[str, Any]:
    """What the page offers: operational forms (newest first) and parameter set names."""
    forms = [{"id": f.id, "label": f"{f.code} v{f.version} (grade {f.grade}, {len(f.items)} items)", "grade": f.grade}
             for f in operational_forms(session)]
    return {"forms": forms, "parameter_sets": list(session.scalars(select(ParameterSet.name).order_by(
        ParameterSet.name))), "default_set": PROVISIONAL_SET}
