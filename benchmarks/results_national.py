"""A simulated national census (400,000 students): scoring, plausible values, aggregates and writes to PostgreSQL.

Usage::

    python benchmarks/results_national.py                    # 400,000 students
    python benchmarks/results_national.py --students 40000   # quick run
    python benchmarks/results_national.py --compare-wle      # + WLE all columns vs per booklet
    DATABASE_URL=postgresql://user@host:5432/db python benchmarks/results_national.py

Simulation (not timed): ~2,400 schools (2/3 elementary with grade-5 classes,
1/3 junior high with grade-8 classes; lognormal sizes, so some are tiny) in 22
districts, classes of ~25, school tags (technology-centre, mobile-learning,
remote) with effects on ability, school effects N(0, 0.35^2), grade 8 0.8
above grade 5. Items: the starter bank's provisional 2PL/GPCM parameters; per
grade a pool of 28 items (the 13 grade-5-and-8 anchors plus 15 of the grade's
own), two booklets of 22 items spiralled within classes (21 % of a grade's
items not presented), 3 % absent, 5 % stop early (not reached), 3 % of the
cells before the last answer omitted. The ResponseMatrix is built in memory
(no answers table); the scoring is calibration-free (known parameters).

The database is a throwaway PostgreSQL database (created from DATABASE_URL,
default postgresql://postgres@127.0.0.1:5432/test, as tests/conftest.py does;
dropped at the end), migrated with `assessment.migrate.upgrade`, with the
roster rows the foreign keys need (districts ... attempts) bulk-loaded.

Timed, in the order `compute_results` does it after reading the matrix:
fingerprint, `score_students` (plausible values, then EAP and WLE), group
statistics (`aggregate` and the run summary), then storing the run in one
transaction, committed: the row dicts are built by results.py's own
`_store_students` / `_store_aggregates` (handed a recorder instead of a
session, so it works before and after they switch to copy_rows), then written
  (a) with batched multi-row INSERTs (`session.execute(insert(Model), 5,000
      rows)`, what results.py does at 85cd202), and
  (b) with `assessment.bulk.copy_rows` (psycopg 3 COPY).
The score tables are truncated before each (not timed) so both write into
empty tables; the rows stored by (a) and (b) are checked to be identical.
Reference in the same run: a bare EAP of the same matrix (`estimate_ability`).
`--compare-wle` also times the WLE on all the window's columns against the
WLE per booklet on its own items (same estimates; not part of the total).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from assessment import results
from assessment.aggregation import Units, aggregate, score_distribution
from assessment.bulk import copy_rows
from assessment.census_scoring import score_students
from assessment.db import make_engine, make_session_factory
from assessment.item_statistics import item_statistics
from assessment.migrate import upgrade
from assessment.models import (
    Attempt,
    District,
    Form,
    ParameterSet,
    ResultAggregate,
    ResultItemStat,
    School,
    SchoolClass,
    ScoreRun,
    Student,
    StudentScore,
    TestSession,
    TestWindow,
)
from assessment.reporting_config import load_reporting_config
from assessment.response_matrix import ANSWERED, NOT_PRESENTED, NOT_REACHED, OMITTED, ResponseMatrix
from item_bank import content_dir, load_bank
from scoring import ItemParameters, category_probabilities, estimate_ability

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
TAGS = {"technology-centre": (0.05, 0.30), "mobile-learning": (0.15, 0.10), "remote": (0.10, -0.30)}
POOL, BOOKLET = 28, 22


# --- simulation ------------------------------------------------------------------

def simulate(n_students: int, seed: int) -> dict[str, Any]:
    """Roster, items and the response matrix of a national census (numpy only)."""
    rng = np.random.default_rng(seed)
    n_schools = max(6, round(2400 * n_students / 400_000))
    n_districts = min(22, max(2, n_schools // 4))
    school_grade = np.where(np.arange(n_schools) < round(n_schools * 2 / 3), 5, 8)
    school_district = rng.integers(0, n_districts, n_schools) + 1
    school_size = np.zeros(n_schools, dtype=np.int64)
    for g in (5, 8):
        idx = np.flatnonzero(school_grade == g)
        target = n_students // 2 if g == 5 else n_students - n_students // 2
        w = rng.lognormal(0.0, 0.8, idx.size)
        size = np.maximum(3, np.floor(w / w.sum() * target)).astype(np.int64)
        size[np.argmax(size)] += target - size.sum()
        school_size[idx] = size
    tags = [[t for t, (p, _) in TAGS.items() if rng.random() < p] for _ in range(n_schools)]
    effect = rng.normal(0.0, 0.35, n_schools) + np.array([sum(TAGS[t][1] for t in ts) for ts in tags])

    # classes of ~25 within each school, students spread evenly over them
    class_school, class_size = [], []
    for s in range(n_schools):
        k = max(1, round(school_size[s] / 25))
        base, extra = divmod(int(school_size[s]), k)
        class_school += [s + 1] * k
        class_size += [base + (1 if c < extra else 0) for c in range(k)]
    class_school_a = np.array(class_school, dtype=np.int64)
    class_grade = school_grade[class_school_a - 1]
    student_class = np.repeat(np.arange(1, len(class_school) + 1), class_size)
    n = student_class.size
    student_school = class_school_a[student_class - 1]
    grade = class_grade[student_class - 1]
    gender = np.where(rng.random(n) < 0.5, "F", "M")
    theta = (np.where(grade == 8, 0.8, 0.0) + effect[student_school - 1] + 0.05 * (gender == "F")
             + rng.normal(0.0, 0.9, n))

    # items: the starter bank's provisional parameters; per grade 13 anchors + 15 of its own, two booklets
    # the operational and pilot items (retired versions share their item's id)
    bank = [it for it in load_bank(content_dir()) if it.irt is not None and it.status != "retired"]
    if len({it.id for it in bank}) != len(bank):
        raise SystemExit("the starter bank holds two current versions of one item id; pick one per id here")
    anchors = [it for it in bank if set(it.grades) == {5, 8}]
    own = {g: [it for it in bank if tuple(it.grades) == (g,)] for g in (5, 8)}
    pools = {}
    for g in (5, 8):
        picks = [own[g][k] for k in rng.choice(len(own[g]), POOL - len(anchors), replace=False)]
        pool = anchors + picks
        pools[g] = [pool[k] for k in rng.permutation(len(pool))]
    items = list({it.id: it for g in (5, 8) for it in pools[g]}.values())
    col = {it.id: j for j, it in enumerate(items)}
    J = len(items)
    kmax = max(len(it.irt.d) for it in items)
    d = np.full((J, kmax), np.nan)
    for j, it in enumerate(items):
        d[j, : len(it.irt.d)] = it.irt.d
    params = ItemParameters(tuple(it.irt.model for it in items), np.array([it.irt.a for it in items]), d,
                            np.zeros(J), tuple(it.id for it in items))
    # position of each column on each (grade, booklet); 0 = not on it
    pos_table = np.zeros((2, 2, J), dtype=np.int64)
    for gi, g in enumerate((5, 8)):
        for b, chosen in enumerate((pools[g][:BOOKLET], pools[g][POOL - BOOKLET:])):
            for p, it in enumerate(chosen, start=1):
                pos_table[gi, b, col[it.id]] = p

    present = rng.random(n) >= 0.03
    ids = np.flatnonzero(present)
    m = ids.size
    booklet = ids % 2  # spiralled within classes
    pos = pos_table[(grade[ids] == 8).astype(np.int64), booklet]
    stop = np.where(rng.random(m) < 0.05, rng.integers(BOOKLET // 3, BOOKLET, m), BOOKLET)
    on_form = pos > 0
    answered = on_form & (pos <= stop[:, None]) & ((rng.random((m, J)) >= 0.03) | (pos == stop[:, None]))
    status = np.full((m, J), NOT_PRESENTED, dtype=np.int8)
    status[on_form & (pos > stop[:, None])] = NOT_REACHED
    status[on_form & (pos < stop[:, None]) & ~answered] = OMITTED
    status[answered] = ANSWERED
    scores = np.full((m, J), np.nan)
    for a in range(0, m, 50_000):
        b = slice(a, min(a + 50_000, m))
        cum = np.cumsum(np.nan_to_num(category_probabilities(theta[ids[b]], params)), axis=2)
        draws = (rng.random((cum.shape[0], J))[:, :, None] > cum).sum(axis=2).astype(np.float64)
        scores[b] = np.where(answered[b], draws, np.nan)
    scores[status == OMITTED] = 0.0

    matrix = ResponseMatrix(
        attempt_ids=ids + 1, student_ids=ids + 1, student_keys=tuple(f"stu-{i + 1:07d}" for i in ids),
        class_ids=student_class[ids], school_ids=student_school[ids], district_ids=school_district[student_school[ids] - 1],
        grades=grade[ids], genders=gender[ids], imported=np.zeros(m, dtype=bool),
        item_pks=np.arange(1, J + 1, dtype=np.int64), item_ids=tuple(it.id for it in items),
        item_dimensions=tuple(it.dimension for it in items), item_max=np.array([it.max_score for it in items]),
        scores=scores, status=status, n_without_answers=0,
        form_ids=np.ones(m, dtype=np.int64))
    return {"matrix": matrix, "params": params, "n": n, "n_schools": n_schools, "n_districts": n_districts,
            "school_grade": school_grade, "school_district": school_district, "tags": tags,
            "class_school": class_school_a, "class_grade": class_grade, "student_class": student_class,
            "gender": gender, "present": present, "pos_table": pos_table}


# --- database --------------------------------------------------------------------

@contextmanager
def throwaway_database(base_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped afterwards (as tests/conftest.py does)."""
    url = make_url(base_url.replace("postgresql://", "postgresql+psycopg://", 1)
                   if base_url.startswith("postgresql://") else base_url)
    name = f"ctc_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def load_roster(session: Session, sim: dict[str, Any], now: datetime) -> tuple[int, int]:
    """The rows the score tables' foreign keys need; returns (window id, parameter set id)."""
    copy_rows(session, District, [{"id": k, "source_id": f"dist-{k:02d}", "name_zh": f"區{k}", "name_en": f"District {k}"}
                                  for k in range(1, sim["n_districts"] + 1)])
    copy_rows(session, School, [
        {"id": s + 1, "source_id": f"sch-{s + 1:05d}", "district_id": int(sim["school_district"][s]),
         "name_zh": f"學校{s + 1}", "name_en": "", "level": "elementary" if sim["school_grade"][s] == 5 else "junior_high",
         "tags": sim["tags"][s]} for s in range(sim["n_schools"])])
    copy_rows(session, SchoolClass, [
        {"id": c + 1, "source_id": f"cls-{c + 1:06d}", "school_id": int(sim["class_school"][c]),
         "grade": int(sim["class_grade"][c]), "name": f"{c + 1}"} for c in range(sim["class_school"].size)])
    copy_rows(session, Student, [
        {"id": i + 1, "source_id": f"stu-{i + 1:07d}", "class_id": int(sim["student_class"][i]), "family_name": "王",
         "given_name": f"{i + 1}", "seat_number": None, "gender": str(sim["gender"][i])} for i in range(sim["n"])])
    pset = ParameterSet(name="provisional-2026", provisional=True)
    window = TestWindow(code="115", name="national census (simulated)", academic_year=113,
                        starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1))
    forms = [Form(code=f"G{g}-{b}", grade=g, time_limit_minutes=40) for g in (5, 8) for b in "AB"]
    session.add_all([pset, window, *forms])
    session.flush()
    form_of_grade = {5: forms[0].id, 8: forms[2].id}
    copy_rows(session, TestSession, [
        {"id": c + 1, "window_id": window.id, "class_id": c + 1, "form_id": form_of_grade[int(sim["class_grade"][c])],
         "time_limit_minutes": 40, "status": "closed"} for c in range(sim["class_school"].size)])
    present = np.flatnonzero(sim["present"])
    copy_rows(session, Attempt, [
        {"id": int(i) + 1, "session_id": int(sim["student_class"][i]), "student_id": int(i) + 1,
         "ticket": f"T{int(i) + 1:09d}", "status": "submitted", "started_at": now - timedelta(minutes=40),
         "submitted_at": now, "submit_reason": "student"} for i in present])
    return window.id, pset.id


def truncate_results(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE result_aggregates, student_scores, score_runs RESTART IDENTITY CASCADE"))
        conn.execute(text("ANALYZE"))


def stored_digest(engine: Engine) -> tuple[Any, ...]:
    """Counts and checksums of the stored run (to check that both ways store the same rows)."""
    with engine.connect() as conn:
        s = conn.execute(text(
            "SELECT count(*), round(sum(scale_score)::numeric, 2), md5(string_agg(concat_ws('|', attempt_id, eap, "
            "eap_se, wle, wle_se, scale_score, scale_se, level, gender, dimensions::text, pvs::text, n_presented, "
            "n_answered, n_omitted, n_not_reached), ',' ORDER BY attempt_id)) FROM student_scores")).one()
        a = conn.execute(text(
            "SELECT count(*), md5(string_agg(concat_ws('|', level, unit, grade, subgroup, suppressed, suppression, n, "
            "mean, se, sd, ci_low, ci_high, percents::text, dimensions::text), ',' ORDER BY level, unit, grade, "
            "subgroup)) FROM result_aggregates")).one()
    return tuple(s) + tuple(a)


class _Recorder:
    """Stands in for a Session to collect the rows `_store_students` / `_store_aggregates` produce.

    It takes `session.execute(insert(...), rows)` (results.py at 85cd202) and, through
    copy_rows' executemany path, `copy_rows(session, ...)` alike.
    """

    class _Bind:
        dialect = type("Dialect", (), {"name": "recorder", "driver": "none"})()

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def get_bind(self) -> Any:
        return self._Bind()

    def execute(self, _statement: Any, values: list[dict[str, Any]]) -> None:
        self.rows.extend(values)


def wle_by_form(x: np.ndarray, params: ItemParameters) -> tuple[np.ndarray, np.ndarray, int]:
    """WLE per pattern of presented items (booklet), on those items only: the alternative measured by --compare-wle."""
    missing = np.isnan(x)
    patterns, which = np.unique(np.packbits(missing, axis=1), axis=0, return_inverse=True)
    which = which.ravel()
    theta, se = np.empty(x.shape[0]), np.empty(x.shape[0])
    for p in range(patterns.shape[0]):
        rows = np.flatnonzero(which == p)
        cols = np.flatnonzero(~missing[rows[0]])
        est = estimate_ability(x[np.ix_(rows, cols)], params.take(cols), "wle")
        theta[rows], se[rows] = est.theta, est.se
    return theta, se, patterns.shape[0]


# --- the timed pipeline ------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.stages: dict[str, float] = {}

    def lap(self, name: str) -> float:
        now = time.perf_counter()
        self.stages[name] = self.stages.get(name, 0.0) + now - self.t
        self.t = now
        return self.stages[name]


def store(factory: Callable[[], Session], how: str, window_id: int, pset_id: int, fp: str, matrix: ResponseMatrix,
          res: Any, rows: list[Any], summary: dict[str, Any], config: Any, clock: Clock,
          item_rows: list[dict[str, Any]]) -> None:
    """Store the run in one transaction: rows built by results.py, written by batched INSERTs or by COPY."""
    session = factory()
    try:
        run = ScoreRun(window_id=window_id, parameter_set_id=pset_id, current=False, fingerprint=fp,
                       settings={"bench": how}, summary=summary, software_version=results.software_version(),
                       created_by="bench")
        session.add(run)
        session.flush()
        clock.lap("run row")
        students, aggregates = _Recorder(), _Recorder()
        results._store_students(students, run.id, matrix, res, config)  # type: ignore[arg-type]
        clock.lap("build student dicts")
        results._store_aggregates(aggregates, run.id, rows)  # type: ignore[arg-type]
        clock.lap("build aggregate dicts")
        for model, values in ((StudentScore, students.rows), (ResultAggregate, aggregates.rows)):
            if how == "insert":  # what results.py at 85cd202 does: batches of 5,000 through insert()
                for start in range(0, len(values), 5000):
                    session.execute(insert(model), values[start:start + 5000])
            else:
                copy_rows(session, model, values)
            clock.lap("student rows" if model is StudentScore else "aggregate rows")
        copy_rows(session, ResultItemStat, [r | {"run_id": run.id} for r in item_rows])
        clock.lap("item rows")
        results._make_current(session, run)
        session.commit()
        clock.lap("commit")
    finally:
        session.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=400_000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--skip-insert", action="store_true", help="time only the COPY way of storing")
    ap.add_argument("--compare-wle", action="store_true",
                    help="also time the WLE on all columns against the WLE per booklet (not part of the total)")
    args = ap.parse_args()
    base_url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not base_url.startswith("postgresql"):
        sys.exit(f"DATABASE_URL must be a PostgreSQL URL for this benchmark; found {base_url!r}")
    print(f"machine: {platform.machine()} cores={os.cpu_count()} python {platform.python_version()} "
          f"numpy {np.__version__}")

    t = time.perf_counter()
    sim = simulate(args.students, args.seed)
    matrix, params = sim["matrix"], sim["params"]
    st = matrix.status
    print(f"simulated {sim['n']:,} students ({matrix.n_students:,} sat the test) in {sim['n_schools']:,} schools, "
          f"{sim['class_school'].size:,} classes, {sim['n_districts']} districts; {matrix.scores.shape[1]} item columns "
          f"({params.model.count('gpcm')} GPCM); cells answered {np.mean(st == ANSWERED):.1%}, omitted "
          f"{np.mean(st == OMITTED):.1%}, not reached {np.mean(st == NOT_REACHED):.1%}, not presented "
          f"{np.mean(st == NOT_PRESENTED):.1%} ({1 - BOOKLET / POOL:.0%} of a grade's own {POOL} items); "
          f"{time.perf_counter() - t:.1f} s (not timed)")

    config = load_reporting_config(None)
    min_cell = 10
    with throwaway_database(base_url) as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        try:
            t = time.perf_counter()
            upgrade(engine)
            t_mig = time.perf_counter() - t
            t = time.perf_counter()
            with factory() as session:
                window_id, pset_id = load_roster(session, sim, datetime.now(UTC))
                session.commit()
            truncate_results(engine)  # ANALYZE after the load
            print(f"database {make_url(url).render_as_string(hide_password=True)}: migrations {t_mig:.1f} s, roster "
                  f"(districts ... attempts, COPY) {time.perf_counter() - t:.1f} s (not timed)")

            # ---- timed: what compute_results does once it has the matrix ----
            clock = Clock()
            settings = {"reporting": config.to_dict(), "min_cell_size": min_cell, "parameter_set": "provisional-2026"}
            fp = results._fingerprint(matrix, params, settings)
            clock.lap("fingerprint")
            columns = np.arange(matrix.scores.shape[1])
            marks: dict[str, float] = {}
            res = score_students(matrix, params, columns, config, base=None, base_is_this_window=True,
                                 seed=int(fp[:8], 16), progress=lambda step: marks.setdefault(step, time.perf_counter()))
            clock.lap("score_students")
            pv_s = marks["abilities"] - marks["plausible values"]
            keep = res.keep
            units = Units(class_ids=matrix.class_ids[keep], school_ids=matrix.school_ids[keep],
                          district_ids=matrix.district_ids[keep], grades=matrix.grades[keep],
                          genders=matrix.genders[keep],
                          class_keys={c + 1: f"cls-{c + 1:06d}" for c in range(sim["class_school"].size)},
                          school_keys={s + 1: f"sch-{s + 1:05d}" for s in range(sim["n_schools"])},
                          district_keys={k: f"dist-{k:02d}" for k in range(1, sim["n_districts"] + 1)},
                          school_tags={s + 1: tuple(sim["tags"][s]) for s in range(sim["n_schools"])})
            rows = aggregate(units, res.pv_scale, res.dimensions, config.cuts, config.level_codes, min_cell)
            clock.lap("aggregate")
            summary = results._summary(matrix, res, rows, columns, units, config)
            clock.lap("summary")
            hidden = {(r.level, r.unit, r.grade) for r in rows if r.suppressed and r.subgroup == "all"}
            summary["distribution"] = score_distribution(res.pv_scale, units, results._bin_edges(config), hidden)
            clock.lap("distribution")
            item_rows = item_statistics(units, matrix.for_scoring(config.not_reached)[keep], matrix.status[keep],
                                        matrix.item_ids, list(range(1, len(matrix.item_ids) + 1)), matrix.item_max,
                                        suppressed_units=hidden, min_n=min_cell)
            clock.lap("item statistics")
            compute = dict(clock.stages)

            # reference: a bare EAP of the same matrix
            x = matrix.for_scoring(config.not_reached)[keep]
            t = time.perf_counter()
            estimate_ability(x, params, "eap")
            t_eap = time.perf_counter() - t
            wle_cmp = None
            if args.compare_wle:
                t = time.perf_counter()
                full = estimate_ability(x, params, "wle")
                t_full = time.perf_counter() - t
                t = time.perf_counter()
                theta, se, n_forms = wle_by_form(x, params)
                wle_cmp = (t_full, time.perf_counter() - t, n_forms, float(np.nanmax(np.abs(theta - full.theta))),
                           float(np.nanmax(np.abs(se - full.se))))

            ways: dict[str, dict[str, float]] = {}
            digests = {}
            for how in (("copy",) if args.skip_insert else ("insert", "copy")):
                truncate_results(engine)
                clock = Clock()
                store(factory, how, window_id, pset_id, fp, matrix, res, rows, summary, config, clock, item_rows)
                ways[how] = dict(clock.stages)
                digests[how] = stored_digest(engine)
        finally:
            engine.dispose()

    n_rows = digests["copy"][0]
    print(f"\nscored {int(keep.sum()):,} students; {len(rows):,} aggregate rows ({summary['suppressed_rows']:,} "
          f"suppressed); stored {n_rows:,} student_scores rows")
    if len(digests) == 2:
        same = digests["insert"] == digests["copy"]
        print(f"INSERT and COPY stored identical rows: {same}")
        assert same, digests
    t_compute = sum(compute.values())
    print("\nstage                                        seconds")
    print(f"  fingerprint                               {compute['fingerprint']:7.2f}")
    print(f"  plausible values                          {pv_s:7.2f}")
    print(f"  EAP + WLE + scale scores + profiles       {compute['score_students'] - pv_s:7.2f}")
    print(f"  aggregate (groups + suppression)          {compute['aggregate']:7.2f}")
    print(f"  run summary                               {compute['summary']:7.2f}")
    print(f"  score distributions                       {compute['distribution']:7.2f}")
    print(f"  item statistics (+ suppression per item)  {compute['item statistics']:7.2f}   ({len(item_rows):,} rows)")
    w = next(iter(ways.values()))
    print(f"  build row dicts (results.py)              {w['build student dicts'] + w['build aggregate dicts']:7.2f}"
          f"   (students {w['build student dicts']:.2f})")
    writes = {how: st["student rows"] + st["aggregate rows"] for how, st in ways.items()}
    for how, label in (("insert", "write rows: INSERT, batches of 5,000"), ("copy", "write rows: COPY (bulk.copy_rows)")):
        if how in ways:
            st = ways[how]
            print(f"  {label:<41s} {writes[how]:7.2f}   (students {st['student rows']:.2f}, aggregates "
                  f"{st['aggregate rows']:.2f})")
    print(f"  write item statistics (COPY)              {w['item rows']:7.2f}")
    print(f"  run row, make current, commit             {w['run row'] + w['commit']:7.2f}")
    totals = {how: t_compute + sum(st.values()) for how, st in ways.items()}
    print()
    if "insert" in totals:
        print(f"ours, total with INSERT writes (as results.py at 85cd202): {totals['insert']:6.1f} s   target <= 60 s: "
              f"{'MET' if totals['insert'] <= 60 else 'NOT MET'}")
    print(f"ours, total with COPY writes:                              {totals['copy']:6.1f} s   target <= 60 s: "
          f"{'MET' if totals['copy'] <= 60 else 'NOT MET'}")
    if "insert" in writes:
        print(f"writing {n_rows + len(rows):,} rows: INSERT {writes['insert']:.2f} s, COPY {writes['copy']:.2f} s: "
              f"COPY {writes['insert'] / writes['copy']:.1f}x faster")
    print(f"reference: bare EAP of the same matrix {t_eap:.2f} s; ratio ours (COPY total) / reference "
          f"{totals['copy'] / t_eap:.0f}x")
    if wle_cmp is not None:
        t_full, t_form, n_forms, d_theta, d_se = wle_cmp
        print(f"WLE on all {matrix.scores.shape[1]} columns {t_full:.2f} s; per booklet ({n_forms} patterns of presented "
              f"items) {t_form:.2f} s: {t_full / t_form:.1f}x; max |d theta| {d_theta:.1e}, max |d se| {d_se:.1e}")


if __name__ == "__main__":
    main()
