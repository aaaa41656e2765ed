"""Simulate a whole city sitting the census, through the services the web uses.

Every class without a session in the window gets one (`create_session`);
students start (`start_attempt`), answer with responses built to earn
IRT-simulated scores (scored by the item's own key through
`item_bank.score_response`), skip some items, stop early, run out of time or
stay absent, submit (`submit_attempt`), and the session is closed
(`close_session`). Abilities have known structure: school effects, school
attribute effects, grade 8 above grade 5, a small gender difference.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank import score_response
from item_bank.synthesis import response_for_score
from scoring import ItemParameters, category_probabilities

from . import audit
from .answers import insert_answers
from .attempts import expire_if_due, start_attempt, submit_attempt
from .db import utcnow
from .forms import form_items, list_forms
from .models import Attempt, ItemParameterRecord, School, SchoolClass, Student, TestSession
from .proctoring import close_session
from .results import window_parameter_set
from .sessions import create_session
from .windows import get_window

__all__ = ["CensusDesign", "SimulationReport", "simulate_census"]


@dataclass(frozen=True)
class CensusDesign:
    """The truth a simulation draws from (theta scale of the scoring parameter set)."""

    grade_means: Mapping[int, float] = field(default_factory=lambda: {5: 0.0, 8: 0.8})
    school_sd: float = 0.35
    student_sd: float = 0.9
    tag_effects: Mapping[str, float] = field(default_factory=lambda: {
        "technology-centre": 0.30, "mobile-learning": 0.10, "remote": -0.30})
    female_effect: float = 0.05
    absent_rate: float = 0.03
    unfinished_rate: float = 0.05
    timed_out_rate: float = 0.02
    omit_rate: float = 0.03


@dataclass(frozen=True)
class SimulationReport:
    """What the simulation did, and the true abilities it drew (by student id)."""

    sessions: int
    students: int
    absent: int
    unfinished: int
    timed_out: int
    answers: int
    true_theta: dict[int, float]
    school_effects: dict[int, float]


def _true_params(session: Session, pset_id: int, pks: list[int]) -> dict[int, ItemParameterRecord]:
    return {r.item_pk: r for r in session.scalars(select(ItemParameterRecord).where(
        ItemParameterRecord.parameter_set_id == pset_id, ItemParameterRecord.item_pk.in_(pks)))}


def simulate_census(
    session: Session,
    window_code: str,
    *,
    design: CensusDesign | None = None,
    seed: int = 113,
    actor: str = "demo",
    now: datetime | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> SimulationReport:
    """Sit every class that has no session in the window yet; returns what happened."""
    design = design or CensusDesign()
    now = now or utcnow()
    window = get_window(session, window_code)
    pset = window_parameter_set(session, window)
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    forms = {g: list_forms(session, g) for g in (5, 8)}
    busy = set(session.scalars(select(TestSession.class_id).where(TestSession.window_id == window.id)))
    classes = [c for c in session.scalars(select(SchoolClass).order_by(SchoolClass.id))
               if c.id not in busy and forms.get(c.grade)]
    schools = {s.id: s for s in session.scalars(select(School))}
    school_effects = {sid: float(rng.normal(0.0, design.school_sd)) + sum(
        design.tag_effects.get(t, 0.0) for t in (s.tags or ())) for sid, s in schools.items()}
    counts = {"absent": 0, "unfinished": 0, "timed_out": 0, "answers": 0, "students": 0}
    truth: dict[int, float] = {}
    for done, klass in enumerate(classes, start=1):
        form_list = forms[klass.grade]
        form = form_list[(done - 1) % len(form_list)]
        test_session = create_session(session, class_id=klass.id, form_id=form.id, window_code=window.code, actor=actor)
        layout = form_items(session, form)
        records = _true_params(session, pset.id, [pk for _, pk, _ in layout])
        scored = [(pk, item) for _, pk, item in layout if pk in records]
        params = ItemParameters(tuple(records[pk].model for pk, _ in scored),
                                np.array([records[pk].a for pk, _ in scored]),
                                _pad([records[pk].d for pk, _ in scored]),
                                np.array([records[pk].c or 0.0 for pk, _ in scored]))
        attempts = list(session.scalars(select(Attempt).where(Attempt.session_id == test_session.id)
                                        .order_by(Attempt.id)))
        genders = dict(session.execute(select(Student.id, Student.gender)
                                       .where(Student.class_id == klass.id)).all())
        theta = (design.grade_means.get(klass.grade, 0.0) + school_effects[klass.school_id]
                 + design.female_effect * np.array([genders.get(a.student_id) == "F" for a in attempts])
                 + rng.normal(0.0, design.student_sd, len(attempts)))
        probs = category_probabilities(theta, params)  # (n, J, K)
        cum = np.cumsum(np.nan_to_num(probs), axis=2)
        draws = (rng.random((len(attempts), len(scored)))[:, :, None] > cum).sum(axis=2)
        rows = []
        for i, attempt in enumerate(attempts):
            truth[attempt.student_id] = float(theta[i])
            fate = rng.random()
            if fate < design.absent_rate:
                counts["absent"] += 1
                continue
            counts["students"] += 1
            timed_out = fate < design.absent_rate + design.timed_out_rate
            unfinished = timed_out or fate < design.absent_rate + design.timed_out_rate + design.unfinished_rate
            started = now - timedelta(minutes=test_session.time_limit_minutes + 5 if timed_out else 20)
            start_attempt(attempt, now=started)
            stop = int(rng.integers(len(scored) // 3, len(scored))) if unfinished else len(scored)
            counts["unfinished"] += unfinished and not timed_out
            for j, (pk, item) in enumerate(scored[:stop]):
                if j < stop - 1 and rng.random() < design.omit_rate:
                    continue
                response = response_for_score(item, int(min(draws[i, j], item.max_score)), pick)
                rows.append({"attempt_id": attempt.id, "item_pk": pk, "seq": 1, "response": response,
                             "score": score_response(item, response), "answered_at": started + timedelta(minutes=1),
                             "saved_at": started + timedelta(minutes=1)})
            if timed_out:
                counts["timed_out"] += int(expire_if_due(attempt, now))
            elif not unfinished or rng.random() < 0.5:
                submit_attempt(attempt, now=now)
        counts["answers"] += insert_answers(session, rows)
        close_session(session, test_session.id, actor=actor, now=now)
        progress(done, len(classes))
    audit.record(session, actor, "results.simulate", window.code, sessions=len(classes), seed=seed, counts=counts)
    return SimulationReport(sessions=len(classes), students=counts["students"], absent=counts["absent"],
                            unfinished=counts["unfinished"], timed_out=counts["timed_out"], answers=counts["answers"],
                            true_theta=truth, school_effects=school_effects)


def _pad(ds: list[list[float]]) -> np.ndarray:
    k = max(len(d) for d in ds)
    out = np.full((len(ds), k), np.nan)
    for j, d in enumerate(ds):
        out[j, : len(d)] = d
    return out
