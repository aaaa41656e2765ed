from datetime import datetime, timedelta, timezone

import pytest

from assessment.errors import InvalidInput
from assessment.models import TestWindow
from assessment.windows import create_window

TAIPEI = timezone(timedelta(hours=8))
START, END = datetime(2026, 5, 1, tzinfo=TAIPEI), datetime(2026, 5, 4, tzinfo=TAIPEI)


@pytest.mark.parametrize(("code", "year", "expected"), [("113", None, 113), ("2024-census", None, 2024),
                                                         ("x", 9999, 9999), ("y", 1, 1)])
def test_academic_year_from_code_or_given(db, code: str, year: int | None, expected: int) -> None:  # type: ignore[no-untyped-def]
    assert create_window(db, code, "普測", START, END, academic_year=year).academic_year == expected


@pytest.mark.parametrize(
    ("code", "year", "message"),
    [
        ("113", 9999999999999999999, "academic year must be 1-9999 .* got 9999999999999999999"),
        ("113", 0, "academic year must be 1-9999"),
        ("113", 10000, "academic year must be 1-9999"),
        ("99999999999999999999", None, "starts with 99999999999999999999, which is no academic year"),
        ("0-pilot", None, "academic year must be 1-9999 .* got 0"),
    ],
)
def test_academic_year_out_of_range_is_refused(db, code: str, year: int | None, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=message):
        create_window(db, code, "普測", START, END, academic_year=year)
    assert db.query(TestWindow).count() == 0
