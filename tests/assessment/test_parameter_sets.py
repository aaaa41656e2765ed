"""Parameter sets (issue 11.4): list, compare, link (constants and SEs), export, re-run without items, and
publishing: one set per window, reversible, and exactly one winner when two researchers publish at once."""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from assessment.calibration_runs import RunRequest, execute_run, get_run, rerun_request, start_run
from assessment.db import make_session_factory
from assessment.errors import Conflict, InvalidInput, NotFound
from assessment.models import (
    AuditEntry,
    ItemParameterRecord,
    ItemRecord,
    ParameterSet,
    ParameterSetPublication,
    TestWindow,
)
from assessment.parameter_linking import link_set
from assessment.parameter_publishing import current_set_id, publish_set, unpublish_window
from assessment.parameter_sets import compare_sets, list_sets, set_arrays, write_set_csv
from assessment.states import CalibrationStatus
from item_bank import ItemStatus
from scoring.csvio import read_groups_csv, read_params_csv

from .factories import import_bank, make_window
from .test_calibration_runs import SECRET, simulate_known_census


def _copy(db: Session, name: str, A: float = 1.0, B: float = 0.0, *, drop: int = 0, noise: float = 0.0,
          seed: int = 3) -> ParameterSet:
    """provisional-2026 put on another scale (theta_new = (theta - B) / A), minus its first `drop` items."""
    rng = np.random.default_rng(seed)
    base = db.scalar(select(ParameterSet).where(ParameterSet.name == "provisional-2026"))
    assert base is not None
    pset = ParameterSet(name=name, provisional=True, published=False,
                        groups=[{"group": "5", "mean": 0.0, "sd": 1.0, "se_mean": None, "se_sd": None, "n": 100},
                                {"group": "8", "mean": 0.5, "sd": 1.1, "se_mean": 0.05, "se_sd": 0.04, "n": 90}])
    db.add(pset)
    db.flush()
    for rec in sorted(base.parameters, key=lambda r: r.item_pk)[drop:]:
        # parameters on the new scale: a_new = a A, d_new = d + a B (so that a_new theta_new + d_new = a theta + d)
        a = rec.a * A * float(np.exp(rng.normal(0, noise)))
        d = [v + rec.a * B + float(rng.normal(0, noise)) for v in rec.d]
        db.add(ItemParameterRecord(parameter_set_id=pset.id, item_pk=rec.item_pk, model=rec.model, a=a, d=d,
                                   c=rec.c, se={"a": 0.1, "d": [0.2] * len(d), "c": None, "fixed": False}))
    db.flush()
    return pset


def test_list_compare_and_export(db: Session, tmp_path: Path) -> None:
    import_bank(db)
    _copy(db, "shifted", B=0.5, drop=2)
    db.commit()
    rows = {r["name"]: r for r in list_sets(db)}
    assert rows["provisional-2026"]["origin_text"] == "item files" and rows["shifted"]["status"] == "draft"
    assert rows["shifted"]["items"] == rows["provisional-2026"]["items"] - 2
    assert sum(rows["shifted"]["models"].values()) == rows["shifted"]["items"]

    cmp = compare_sets(db, "provisional-2026", "shifted")
    assert len(cmp.only_a) == 2 and cmp.only_b == () and cmp.summary["common"] == len(cmp.items)
    # theta_new = theta - 0.5: every threshold b moves by -0.5, slopes stay
    assert cmp.summary["difficulty"]["mean"] == pytest.approx(-0.5, abs=1e-12)
    assert cmp.summary["difficulty"]["rmse"] == pytest.approx(0.5, abs=1e-12)
    assert cmp.summary["discrimination"]["rmse"] == pytest.approx(0.0, abs=1e-12)
    assert {r["parameter"] for r in cmp.rows()} >= {"a", "b1", "d1", "c"}
    with pytest.raises(NotFound, match="known sets"):
        compare_sets(db, "provisional-2026", "nope")
    with pytest.raises(InvalidInput, match="two different sets"):
        compare_sets(db, "shifted", "shifted")

    pset = db.scalar(select(ParameterSet).where(ParameterSet.name == "shifted"))
    assert pset is not None
    n = write_set_csv(db, pset, tmp_path / "s.csv", tmp_path / "s.groups.csv")
    back = read_params_csv(tmp_path / "s.csv")
    arrays = set_arrays(db, pset)
    assert n == back.n_items == arrays.params.n_items and back.item_names == arrays.params.item_names
    np.testing.assert_allclose(back.a, arrays.params.a, atol=1e-6)
    header = (tmp_path / "s.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["item", "model", "a", "d1"] and "se_a" in header and header[-1] == "se_c"
    assert read_groups_csv(tmp_path / "s.groups.csv") == {"5": (0.0, 1.0), "8": (0.5, 1.1)}


def test_link_recovers_known_constants_with_jackknife_ses(db: Session) -> None:
    import_bank(db)
    _copy(db, "exact", A=1.3, B=-0.4)
    _copy(db, "noisy", A=1.3, B=-0.4, noise=0.08)
    db.commit()
    exact = link_set(db, "exact", "provisional-2026", "stocking-lord", "test")
    o = exact.origin or {}
    # theta_base = A theta_exact + B undoes the copy: A = 1.3, B = -0.4 exactly, and no anchor moves them
    assert o["A"] == pytest.approx(1.3, abs=1e-6) and o["B"] == pytest.approx(-0.4, abs=1e-6)
    assert o["se_A"] == pytest.approx(0.0, abs=1e-5) and o["se_B"] == pytest.approx(0.0, abs=1e-5)
    anchors = set(db.scalars(select(ItemRecord.item_id).where(ItemRecord.anchor.is_(True))))
    assert {re.sub(r"-v[0-9]+$", "", n) for n in o["anchors"]} <= anchors and len(o["anchors"]) >= 3 and exact.name == "exact-on-provisional-2026"
    base = {r.item_pk: r for r in db.scalars(select(ParameterSet).where(
        ParameterSet.name == "provisional-2026")).one().parameters}
    for rec in exact.parameters:  # transformed back onto the base scale: the base's parameters
        assert rec.a == pytest.approx(base[rec.item_pk].a, abs=1e-5)
        np.testing.assert_allclose(rec.d, base[rec.item_pk].d, atol=1e-5)
        assert rec.se is not None and rec.se["a"] == pytest.approx(0.1 / 1.3) and rec.se["linked"]
    groups = {g["group"]: g for g in exact.groups or []}
    assert groups["8"]["mean"] == pytest.approx(1.3 * 0.5 - 0.4) and groups["8"]["sd"] == pytest.approx(1.3 * 1.1)
    assert groups["8"]["se_mean"] == pytest.approx(1.3 * 0.05)

    noisy = link_set(db, "noisy", "provisional-2026", "haebara", "test", new_name="noisy-linked")
    o = noisy.origin or {}
    assert 0 < o["se_A"] < 0.2 and 0 < o["se_B"] < 0.2 and o["method"] == "haebara"
    assert abs(o["A"] - 1.3) < 4 * o["se_A"] + 0.02 and abs(o["B"] + 0.4) < 4 * o["se_B"] + 0.02
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "params.link",
                                              AuditEntry.target == "noisy-linked")) is not None
    with pytest.raises(InvalidInput, match="--method"):
        link_set(db, "noisy", "provisional-2026", "mean-mean", "test")
    with pytest.raises(InvalidInput, match="not onto itself"):
        link_set(db, "noisy", "noisy", "haebara", "test")
    with pytest.raises(Conflict, match="exists already"):
        link_set(db, "noisy", "provisional-2026", "haebara", "test", new_name="exact-on-provisional-2026")


def _pilot_items(db: Session, set_name: str, n: int) -> list[int]:
    """Make `n` items of the set pilot items (every other item of the bank operational); returns their pks."""
    pset = db.scalar(select(ParameterSet).where(ParameterSet.name == set_name))
    assert pset is not None
    pks = sorted(r.item_pk for r in pset.parameters)[:n]
    db.execute(update(ItemRecord).where(ItemRecord.status == ItemStatus.PILOT).values(status=ItemStatus.OPERATIONAL))
    db.execute(update(ItemRecord).where(ItemRecord.pk.in_(pks)).values(status=ItemStatus.PILOT))
    return pks


def _status(db: Session, pks: list[int]) -> set[str]:
    return {str(s) for s in db.scalars(select(ItemRecord.status).where(ItemRecord.pk.in_(pks)))}


def test_publish_moves_pilot_items_and_unpublish_restores_everything(db: Session) -> None:
    import_bank(db)
    make_window(db, "113")
    first, second = _copy(db, "first"), _copy(db, "second", drop=1)
    pilots = _pilot_items(db, "second", 2)
    db.commit()
    out = publish_set(db, "first", "113", "alice")
    assert out.previous_set is None and out.parameter_set == "first"
    assert set(out.moved_items) == set(db.scalars(select(ItemRecord.item_id).where(ItemRecord.pk.in_(pilots))))
    assert _status(db, pilots) == {"operational"}  # first holds the pilots too: it moved them
    db.commit()
    with pytest.raises(Conflict, match="already published"):
        publish_set(db, "first", "113", "alice")
    db.rollback()
    out = publish_set(db, "second", "113", "bob")
    assert out.previous_set == "first" and out.moved_items == ()  # nothing left in pilot
    db.commit()
    db.refresh(first)
    db.refresh(second)
    assert not first.published and second.published and not second.provisional
    assert list_sets(db)[0]["status"] in ("published for window 113", "draft")

    out = unpublish_window(db, "113", "bob")  # back to first; second's publication moved no item
    assert out.parameter_set == "first" and out.moved_items == ()
    db.commit()
    db.refresh(second)
    assert current_set_id(db, "113") == first.id and second.provisional and not second.published
    out = unpublish_window(db, "113", "alice")  # back to the provisional set; first's pilots go back
    assert out.parameter_set is None and _status(db, pilots) == {"pilot"}
    db.commit()
    with pytest.raises(Conflict, match="no published parameter set"):
        unpublish_window(db, "113", "alice")
    db.rollback()
    actions = list(db.scalars(select(AuditEntry.action).where(AuditEntry.action.like("params.%"))
                              .order_by(AuditEntry.id)))
    assert actions == ["params.publish", "params.publish", "params.unpublish", "params.unpublish"]


def test_an_item_another_window_still_publishes_stays_operational(db: Session) -> None:
    import_bank(db)
    make_window(db, "113")
    make_window(db, "114")
    _copy(db, "first")
    _copy(db, "second")
    pilots = _pilot_items(db, "first", 1)
    db.commit()
    assert publish_set(db, "first", "113", "alice").moved_items  # moved by the 113 publication
    assert publish_set(db, "second", "114", "alice").moved_items == ()
    db.commit()
    assert unpublish_window(db, "113", "alice").moved_items == ()  # 114's set holds it: stays operational
    assert _status(db, pilots) == {"operational"}


def _publish_in_thread(factory, name: str, seen: int | None, start: threading.Barrier,  # type: ignore[no-untyped-def]
                       outcomes: dict[str, object]) -> None:
    start.wait()
    session = factory()
    try:
        publish_set(session, name, "113", f"researcher-{name}", expected_set_id=seen)
        time.sleep(0.4)  # hold the transaction open: the other one runs into it
        session.commit()
        outcomes[name] = "won"
    except Conflict as exc:
        session.rollback()
        outcomes[name] = exc
    finally:
        session.close()


def test_two_researchers_publishing_at_once_exactly_one_wins(db: Session) -> None:
    import_bank(db)
    make_window(db, "113")
    _copy(db, "alpha")
    _copy(db, "beta")
    pilots = _pilot_items(db, "alpha", 2)  # beta holds them too
    db.commit()
    seen = current_set_id(db, "113")  # both researchers saw the window without a published set
    db.rollback()
    factory = make_session_factory(db.get_bind())  # type: ignore[arg-type]
    start, outcomes = threading.Barrier(2), {}  # type: ignore[var-annotated]
    threads = [threading.Thread(target=_publish_in_thread, args=(factory, n, seen, start, outcomes))
               for n in ("alpha", "beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [n for n, o in outcomes.items() if o == "won"]
    losers = [o for o in outcomes.values() if isinstance(o, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    winner = winners[0]
    assert str(losers[0]) == (f"window 113's set changed while you published; it is now {winner}. Nothing was "
                              "changed; look again (ctcensus params list) and publish again if you still mean to")
    db.expire_all()
    window = db.scalar(select(TestWindow).where(TestWindow.code == "113"))
    assert window is not None and window.parameter_set_id == db.scalar(
        select(ParameterSet.id).where(ParameterSet.name == winner))
    assert db.scalar(select(func.count()).select_from(ParameterSetPublication)) == 1
    loser = "beta" if winner == "alpha" else "alpha"
    assert not db.scalar(select(ParameterSet.published).where(ParameterSet.name == loser))
    publication = db.scalar(select(ParameterSetPublication))
    assert publication is not None and publication.moved_items == pilots and publication.published_by == \
        f"researcher-{winner}"
    assert _status(db, pilots) == {"operational"}
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "params.publish")) == 1


def test_a_rerun_leaves_out_the_excluded_items_and_records_them(db: Session, tmp_path: Path) -> None:
    simulate_known_census(db, tmp_path, n_per_grade=200)
    first = start_run(db, RunRequest(window="113", name="cal-a", max_iter=5), "test")
    db.commit()
    factory = make_session_factory(db.get_bind())  # type: ignore[arg-type]
    assert execute_run(factory, first.id, secret_key=SECRET) is CalibrationStatus.DONE
    db.expire_all()
    items = get_run(db, first.id).selection["items"]
    for exclude, text in (([], "at least one"), (["nope"], "'nope' is not in run"), (items, "leaves none")):
        with pytest.raises(InvalidInput, match=text):
            rerun_request(db, first.id, "cal-b", exclude)
    request = rerun_request(db, first.id, "cal-b", [items[0], f" {items[1]}", items[0]])
    run = start_run(db, request, "test")
    db.commit()
    assert run.selection["exclude"] == sorted(items[:2]) and run.selection["rerun_of"] == first.id
    assert run.settings["max_iter"] == 5 and run.settings["model"] == "auto"
    assert execute_run(factory, run.id, secret_key=SECRET) is CalibrationStatus.DONE
    db.expire_all()
    run = get_run(db, run.id)
    assert run.selection["items"] == items[2:] and run.parameter_set is not None
    assert len(run.parameter_set.parameters) == len(items) - 2
    assert run.parameter_set.origin == {"kind": "calibration", "run": run.id, "rerun_of": first.id,
                                        "excluded": sorted(items[:2])}
    assert {r["name"]: r["origin_text"] for r in list_sets(db)}["cal-b"] == f"calibration run {run.id}, re-run of " \
        f"run {first.id}"


def test_a_set_that_did_not_converge_is_not_published_silently(db: Session, tmp_path: Path) -> None:
    """DESIGN.md: never a silent non-convergence. A run stopped by --max-iter makes a set that publishing refuses
    (and the same for a set linked from it) until the researcher says so; then the audit records it."""
    simulate_known_census(db, tmp_path, n_per_grade=200)
    run = start_run(db, RunRequest(window="113", name="cal-short", max_iter=3), "test")
    db.commit()
    factory = make_session_factory(db.get_bind())  # type: ignore[arg-type]
    assert execute_run(factory, run.id, secret_key=SECRET) is CalibrationStatus.DONE
    db.expire_all()
    assert get_run(db, run.id).result["converged"] is False  # type: ignore[index]
    link_set(db, "cal-short", "provisional-2026", "stocking-lord", "test", new_name="cal-short-linked")
    db.commit()
    for name in ("cal-short", "cal-short-linked"):
        with pytest.raises(Conflict, match=r"did not converge in 3 EM iterations.*--allow-unconverged") as caught:
            publish_set(db, name, "113", "test")
        assert caught.value.code == "unconverged"
        db.rollback()
        assert current_set_id(db, "113") is None
    outcome = publish_set(db, "cal-short", "113", "test", allow_unconverged=True)
    db.commit()
    assert outcome.parameter_set == "cal-short" and current_set_id(db, "113") is not None
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "params.publish")).all()[-1]
    assert "did not converge" in str(entry.detail)
