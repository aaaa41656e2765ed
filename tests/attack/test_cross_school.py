"""Cross-school access on every staff GET page with path parameters (found from app.url_map, so it cannot rot).

Each role of school A (school admin, teacher, proctor) and the city-wide roles (researcher, bureau)
open every such page with school B's ids. Refused means 403 or 404 with none of B's names, class ids
or tickets in the body; the only pages a role may open with B's ids are listed in BY_DESIGN with the
reason. Ids that do not exist answer like foreign ones for the readers results are scoped for (no
existence oracle, as assessment/dashboards.py `_missing` does for the dashboards). An admin opening
every URL with 200 shows the URLs are real, so each refusal is about scope and not a typo.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from assessment.calibration_runs import RunRequest, execute_run, start_run
from assessment.db import make_session_factory
from assessment.design_runs import bank_design, queue_design
from assessment.states import CalibrationStatus

from .conftest import ROLES_OF_A, World, staff_client

W = "113"
# The research workbench's ids (a done calibration run of the census, a queued design simulation), made by the
# `research` fixture for the tests that open every URL.
RESEARCH: dict[str, str] = {}
# endpoint -> (URLs with school B's ids, the same URLs with ids that do not exist)
URLS: dict[str, Callable[[World], tuple[list[str], list[str]]]] = {
    "proctor.live": lambda w: ([f"/proctor/sessions/{w.b.session_id}"], ["/proctor/sessions/99999"]),
    "proctor.tickets": lambda w: ([f"/proctor/sessions/{w.b.session_id}/tickets"], ["/proctor/sessions/99999/tickets"]),
    "proctor.status": lambda w: ([f"/proctor/api/sessions/{w.b.session_id}/status"],
                                 ["/proctor/api/sessions/99999/status"]),
    "overview.district": lambda w: (["/overview/districts/kl-test"], ["/overview/districts/kl-nowhere"]),
    "overview.school": lambda w: ([f"/overview/schools/{w.b.source_id}"], ["/overview/schools/es-nowhere"]),
    "overview.api_district": lambda w: (["/overview/api/districts/kl-test"], ["/overview/api/districts/kl-nowhere"]),
    "overview.api_school": lambda w: ([f"/overview/api/schools/{w.b.source_id}"], ["/overview/api/schools/es-nowhere"]),
    "results.city": lambda w: ([f"/results/{W}/city"], []),
    "results.city_table": lambda w: ([f"/results/{W}/city/tables/schools.csv"], []),
    "results.unit": lambda w: (
        [f"/results/{W}/district/kl-test", f"/results/{W}/school/{w.b.source_id}",
         f"/results/{W}/class/{w.b.source_id}-c1", f"/results/{W}/student/{w.b.source_id}-c1-01"],
        [f"/results/{W}/school/es-nowhere", f"/results/{W}/class/es-nowhere-c1", f"/results/{W}/student/es-nowhere-01"]),
    "results.unit_table": lambda w: (
        [f"/results/{W}/district/kl-test/tables/schools.csv", f"/results/{W}/school/{w.b.source_id}/tables/classes.csv",
         f"/results/{W}/class/{w.b.source_id}-c1/tables/students.xlsx"],
        [f"/results/{W}/school/es-nowhere/tables/classes.csv", f"/results/{W}/class/es-nowhere-c1/tables/students.csv"]),
    "results.export": lambda w: (
        [f"/results/{W}/export.csv?level={level}&school={w.b.source_id}" for level in ("school", "class", "student")],
        [f"/results/{W}/export.csv?level={level}&school=es-nowhere" for level in ("school", "class", "student")]),
    "results.school_pdf": lambda w: ([f"/results/{W}/school/{w.b.source_id}/report.pdf"],
                                     [f"/results/{W}/school/es-nowhere/report.pdf"]),
    "results.responses": lambda w: ([f"/results/{W}/responses.csv", f"/results/{W}/responses.csv?grade=5"], []),
    # parameter sets name no school: researchers and admins only (set 1: the starter bank's provisional set)
    "research_params.show": lambda w: (["/research/params/1"], ["/research/params/99999"]),
    "research_params.export": lambda w: (["/research/params/1/params.csv", "/research/params/1/groups.csv"],
                                         ["/research/params/99999/params.csv"]),
    # calibration runs, their analyses and design simulations name no school either: researchers and admins only
    "research_runs.show": lambda w: ([f"/research/runs/{RESEARCH['run']}"], ["/research/runs/99999"]),
    "research_runs.progress": lambda w: ([f"/research/runs/{RESEARCH['run']}/progress.json"],
                                         ["/research/runs/99999/progress.json"]),
    "research_analysis.analysis": lambda w: ([f"/research/runs/{RESEARCH['run']}/analysis"],
                                             ["/research/runs/99999/analysis"]),
    "research_analysis.analysis_xlsx": lambda w: ([f"/research/runs/{RESEARCH['run']}/analysis.xlsx"],
                                                  ["/research/runs/99999/analysis.xlsx"]),
    "research_design.job": lambda w: ([f"/research/design/jobs/{RESEARCH['design_job']}"],
                                      ["/research/design/jobs/no-such-job"]),
    # items name no school: the bank is read by admins, researchers and the bureau (keys for the first two only)
    "items.show": lambda w: ([f"/items/{next(iter(w.items.values())).id}"], ["/items/no-such-item"]),
    "items.student_view": lambda w: ([f"/items/{next(iter(w.items.values())).id}/student"],
                                     ["/items/no-such-item/student"]),
}
_RESEARCH_PAGES = {"research_params.show", "research_params.export", "research_runs.show", "research_runs.progress",
                   "research_analysis.analysis", "research_analysis.analysis_xlsx", "research_design.job",
                   "items.show", "items.student_view"}
# Pages a role opens with B's ids on purpose: the bureau reads the whole city; researchers read the city and
# district pages and tables, where schools are pseudonyms.
BY_DESIGN: dict[str, set[str]] = {
    "bureau": {"overview.district", "overview.school", "overview.api_district", "overview.api_school",
               "results.city", "results.city_table", "results.unit", "results.unit_table", "results.export",
               "results.school_pdf", "results.responses", "items.show", "items.student_view"},
    "researcher": {"results.city", "results.city_table", f"/results/{W}/district/kl-test",
                   f"/results/{W}/district/kl-test/tables/schools.csv", "results.responses", *_RESEARCH_PAGES},
}
# Proctor pages tell an unknown session id (404) from another school's (403): session ids are sequential
# numbers that name nothing, and tests/webapp/test_proctor.py pins 404 for unknown ids.
ORACLE_ALLOWED = {"proctor.live", "proctor.tickets", "proctor.status"}
PUBLIC = {"static"}  # stylesheets and scripts


def get_routes_with_parameters(app: Flask) -> set[str]:
    """Every staff GET endpoint with a path parameter (the student API has none: its token names the attempt)."""
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if "GET" in (rule.methods or set()) and rule.arguments and not rule.rule.startswith("/api/v1/")
            and rule.endpoint not in PUBLIC}


@pytest.fixture
def research(app: Flask, db: Session, census_world: World) -> Iterator[dict[str, str]]:
    """A done calibration run of the census window and a queued design simulation (no worker takes it)."""
    run_id = start_run(db, RunRequest(window=W, name="cross-school-run"), actor="root").id
    db.commit()
    factory = make_session_factory(db.get_bind())  # type: ignore[arg-type]
    assert execute_run(factory, run_id, secret_key=app.config["SECRET_KEY"]) is CalibrationStatus.DONE
    with app.app_context():
        from webapp.extensions import services

        spec = bank_design(db, n_per_grade={5: 200, 8: 200}, schools={5: 4, 8: 4}, replications=2)
        job = queue_design(services().settings, spec, "root", "cross-school test")
    db.rollback()  # end the read (SQLite would keep the file locked against the app's requests)
    RESEARCH.update(run=str(run_id), design_job=job)
    yield RESEARCH
    RESEARCH.clear()


def test_every_get_route_with_parameters_has_foreign_ids(app: Flask) -> None:
    found = get_routes_with_parameters(app)
    assert found == set(URLS), (f"GET routes without a cross-school case: {sorted(found - set(URLS))}; "
                                f"cases for no route: {sorted(set(URLS) - found)}")


def _markers(world: World) -> list[str]:
    """What only a page about school B shows: its name, its class and student ids, its tickets."""
    b = world.b.source_id
    return [f"{b}學校", f"{b}-c1-0", f"{b}-c2", *world.b.tickets, *(f"{t[:4]}-{t[4:]}" for t in world.b.tickets)]


def _allowed(username: str, endpoint: str, url: str) -> bool:
    design = BY_DESIGN.get(username, set())
    return endpoint in design or url in design


def test_no_role_of_school_a_reads_school_b(app: Flask, db: Session, census_world: World,
                                            research: dict[str, str]) -> None:
    world = census_world
    markers = _markers(world)
    failures: list[str] = []
    for username in ROLES_OF_A:
        client, _ = staff_client(app, username)
        for endpoint, urls in URLS.items():
            foreign, missing = urls(world)
            statuses = set()
            for url in foreign:
                if _allowed(username, endpoint, url):
                    continue
                response = client.get(url)
                body = response.get_data(as_text=True)
                statuses.add(response.status_code)
                if response.status_code not in (403, 404):
                    failures.append(f"{username} GET {url}: {response.status_code}")
                leaked = [m for m in markers if m in body]
                if leaked:
                    failures.append(f"{username} GET {url}: body shows {leaked}")
            if not statuses or endpoint in ORACLE_ALLOWED:
                continue
            for url in missing:
                status = client.get(url).status_code
                if status not in statuses:
                    failures.append(f"{username} GET {url}: {status} for an unknown id, {statuses} for B's")
    assert not failures, "\n".join(failures)


def test_the_foreign_urls_are_real(app: Flask, census_world: World, research: dict[str, str]) -> None:
    """The control: an admin opens every one of B's URLs (so each refusal above is about scope)."""
    client, _ = staff_client(app, "root")
    for endpoint, urls in URLS.items():
        for url in urls(census_world)[0]:
            if endpoint == "results.school_pdf":
                continue  # rendered by tests/webapp/test_results_dashboards.py; 2 s here for nothing new
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)


def test_scoped_exports_hold_only_the_readers_school(app: Flask, census_world: World) -> None:
    """The window-wide export without ?school= is the reader's own scope: none of B's rows for A's staff."""
    markers = _markers(census_world)
    for username in ("a-admin", "a-teacher"):
        client, _ = staff_client(app, username)
        for level in ("school", "class", "student"):
            response = client.get(f"/results/{W}/export.csv?level={level}")
            assert response.status_code == 200
            body = response.get_data(as_text=True)
            assert census_world.b.source_id not in body and not [m for m in markers if m in body], (username, level)


def test_researchers_cannot_name_a_school_in_an_export(app: Flask, census_world: World) -> None:
    """A researcher's export is pseudonymous; filtering it by a real school id would tie that school to its
    pseudonym (and its students' rows), so naming a school is refused, existing or not."""
    client, _ = staff_client(app, "researcher")
    for school in (census_world.b.source_id, "es-nowhere"):
        response = client.get(f"/results/{W}/export.csv?level=student&school={school}")
        assert response.status_code == 403, (school, response.status_code)
    whole = client.get(f"/results/{W}/export.csv?level=school")
    assert whole.status_code == 200 and census_world.b.source_id not in whole.get_data(as_text=True)
