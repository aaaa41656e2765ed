import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment.errors import Conflict
from assessment.models import School, SchoolClass, Student
from assessment.roster import MAX_CLASS_SIZE, generate_demo_city


def test_demo_city_is_keelung_sized(db: Session) -> None:
    city = generate_demo_city(db)
    db.commit()
    assert (city.districts, city.elementary_schools, city.junior_high_schools) == (7, 39, 11)
    assert city.grade5_students == 2500 and city.grade8_students == 2850
    assert city.one_class_schools >= 5
    sizes = db.execute(
        select(SchoolClass.id, func.count(Student.id)).join(Student).group_by(SchoolClass.id)
    ).all()
    assert max(n for _, n in sizes) <= MAX_CLASS_SIZE
    assert sum(n for _, n in sizes) == 5350
    grades = set(db.scalars(select(SchoolClass.grade)))
    assert grades == {5, 8}
    assert db.scalar(select(func.count()).select_from(School).where(School.level == "junior_high")) == 11


def test_demo_city_is_deterministic_and_refuses_a_second_run(db: Session) -> None:
    generate_demo_city(db, seed=7)
    db.commit()
    names = db.scalars(select(Student.family_name + Student.given_name).order_by(Student.source_id).limit(20)).all()
    with pytest.raises(Conflict, match="already has schools"):
        generate_demo_city(db, seed=7)
    db.rollback()
    assert len(names) == 20
