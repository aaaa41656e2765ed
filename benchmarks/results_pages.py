"""Server time of the results dashboards for the demo city on the embedded default (SQLite + embedded Redis).

Usage::

    python benchmarks/results_pages.py              # build the city in a temp instance, 20 requests per page
    python benchmarks/results_pages.py --repeat 50

The city is built and scored as `ctcensus demo --no-serve` does (`benchmarks/results_city.py`'s
`build_city`, then `compute_results`), with DATABASE_URL and REDIS_URL unset. Each page is then
requested through the app in this process (Flask's test client: the whole request, routing, the
database queries, the templates and the SVG charts; no network), logged in as the role that reads it:
bureau (city, district), the demo principal (school, its PDF), the demo teacher (class, a student's
report). The figure per page is the median and the 95th percentile of --repeat requests after one
warm-up request.

Reference, in the same run: `GET /login`, the smallest templated page of the app. The target is
300 ms server time per page (issue 9); the PDF download is reported but has no target.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results_city import WINDOW, build_city

TARGET = 0.300


def timed(client: object, url: str, repeat: int) -> list[float]:
    """Seconds per request (after one warm-up); every response must be 200."""
    out = []
    for k in range(repeat + 1):
        t = time.perf_counter()
        response = client.get(url)  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - t
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
        if k:
            out.append(elapsed)
    return out


def login(app: object, username: str, password: str) -> object:
    client = app.test_client()  # type: ignore[attr-defined]
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, f"login of {username} failed"
    return client


def main() -> None:
    os.environ.setdefault("TQDM_DISABLE", "1")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20, help="timed requests per page (after one warm-up)")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} cores={os.cpu_count()} python {platform.python_version()}")
    instance = Path(tempfile.mkdtemp(prefix="ctc-bench-pages-"))
    try:
        ctx = build_city(instance)
        from sqlalchemy import select

        from assessment.demo import DEMO_ACCOUNTS
        from assessment.models import District, SchoolClass, Student, StudentScore, User, UserClass
        from assessment.reporting_config import load_reporting_config
        from assessment.results import compute_results
        from webapp import create_app

        with ctx.transaction() as session:  # type: ignore[attr-defined]
            run = compute_results(session, WINDOW, load_reporting_config(instance),
                                  min_cell_size=ctx.settings.min_cell_size, actor="bench").run  # type: ignore[attr-defined]
            district = session.scalar(select(District.source_id).order_by(District.source_id).limit(1))
            teacher = session.scalar(select(User).where(User.username == "teacher"))
            klass = session.scalar(select(SchoolClass.source_id).join(UserClass, UserClass.class_id == SchoolClass.id)
                                   .where(UserClass.user_id == teacher.id))
            student = session.scalar(select(Student.source_id).join(StudentScore, StudentScore.student_id == Student.id)
                                     .join(SchoolClass, Student.class_id == SchoolClass.id)
                                     .where(StudentScore.run_id == run.id, SchoolClass.source_id == klass).limit(1))
        ctx.close()  # type: ignore[attr-defined]
        school = DEMO_ACCOUNTS["principal"][2]
        app = create_app()
        base = f"/results/{WINDOW}"
        readers = {name: login(app, name, DEMO_ACCOUNTS[name][1]) for name in ("bureau", "principal", "teacher")}
        anonymous = app.test_client()
        reference = timed(anonymous, "/login", args.repeat)
        ref = statistics.median(reference)
        pages = [("city", "bureau", f"{base}/city"), ("district", "bureau", f"{base}/district/{district}"),
                 ("school", "principal", f"{base}/school/{school}"), ("class", "teacher", f"{base}/class/{klass}"),
                 ("student report", "teacher", f"{base}/student/{student}"),
                 ("city table (schools.csv)", "bureau", f"{base}/city/tables/schools.csv"),
                 ("school PDF (no target)", "principal", f"{base}/school/{school}/report.pdf")]
        print(f"\nreference: GET /login  median {1000 * ref:.1f} ms\n")
        print(f"{'page':<26} {'reader':<10} {'median':>9} {'p95':>9} {'x /login':>9}  target 300 ms")
        for name, reader, url in pages:
            repeat = max(3, args.repeat // 5) if "PDF" in name else args.repeat
            times = sorted(timed(readers[reader], url, repeat))
            med, p95 = statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]
            verdict = "" if "PDF" in name else ("MET" if p95 <= TARGET else "NOT MET")
            print(f"{name:<26} {reader:<10} {1000 * med:7.1f}ms {1000 * p95:7.1f}ms {med / ref:8.1f}x  {verdict}")
    finally:
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
