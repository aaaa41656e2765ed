"""The roster: city → districts → schools → classes → students, with stable source ids.

`generate_demo_city` builds a realistic synthetic Keelung: 7 districts, 39
elementary and 11 junior-high schools, about 2,500 grade-5 and 2,850 grade-8
students in classes of at most 29, including one-class schools.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit
from .errors import Conflict
from .models import District, School, SchoolClass, Student

__all__ = ["KEELUNG_DISTRICTS", "MAX_CLASS_SIZE", "SCHOOL_TAGS", "DemoCity", "generate_demo_city"]

MAX_CLASS_SIZE = 29

KEELUNG_DISTRICTS = (
    ("kl-zhongzheng", "中正區", "Zhongzheng"),
    ("kl-qidu", "七堵區", "Qidu"),
    ("kl-nuannuan", "暖暖區", "Nuannuan"),
    ("kl-renai", "仁愛區", "Ren'ai"),
    ("kl-zhongshan", "中山區", "Zhongshan"),
    ("kl-anle", "安樂區", "Anle"),
    ("kl-xinyi", "信義區", "Xinyi"),
)
# Synthetic school names built from local place words (not an official list).
_PLACES = ["港灣", "海濱", "和平", "正濱", "八斗", "深澳", "碧砂", "長潭", "百福", "瑪東", "友蚋", "泰安", "堵北", "六合", "暖江", "碇南", "源遠", "過港", "東勢", "仁德", "愛三", "獅球", "虎仔", "南榮", "崁頂", "仙洞", "太白", "德和", "西岸", "中和", "安瀾", "武崙", "隆聖", "內寮", "新西", "嘉仁", "信南", "東光", "智仁", "月眉", "建德", "麥金", "海興", "五福", "樂一", "光華", "深美", "貴美", "安泰", "中興"]
_SURNAMES = "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周徐蘇葉莊呂江何蕭羅高潘簡朱鍾彭游詹胡施沈余趙盧梁顏柯翁魏孫戴范方宋鄧杜傅侯曹薛丁卓馬董溫唐藍石蔣古紀姚連馮歐程湯黃田康姜白汪鄒尤巫鐘黎涂龔嚴韓袁金童陸夏柳邵錢伍倪溫"
_GIVEN = "宇庭涵恩承睿芯妤柏彥語子晴瑜翔安哲宜欣雅婷家豪冠廷品妍士庭佳穎浩宸思彤沛誠以柔亮瑋予希允樂昕禾芸書蓁"


@dataclass(frozen=True)
class DemoCity:
    """What `generate_demo_city` created."""

    districts: int
    elementary_schools: int
    junior_high_schools: int
    classes: int
    grade5_students: int
    grade8_students: int
    one_class_schools: int


def generate_demo_city(
    session: Session,
    *,
    seed: int = 113,
    grade5_target: int = 2500,
    grade8_target: int = 2850,
    n_elementary: int = 39,
    n_junior_high: int = 11,
    actor: str = "system",
) -> DemoCity:
    """Create the synthetic Keelung roster in the caller's transaction (refuses a non-empty roster)."""
    if session.scalar(select(func.count()).select_from(School)):
        raise Conflict("the roster already has schools; the demo city is only generated into an empty roster")
    rng = np.random.default_rng(seed)
    tag_rng = np.random.default_rng(seed + 1)  # a stream of its own: names and sizes stay as they were
    districts = [District(source_id=sid, name_zh=zh, name_en=en) for sid, zh, en in KEELUNG_DISTRICTS]
    session.add_all(districts)
    session.flush()

    places = list(_PLACES)
    rng.shuffle(places)
    summary = {"classes": 0, 5: 0, 8: 0, "one_class": 0}
    specs = [("elementary", 5, n_elementary, grade5_target), ("junior_high", 8, n_junior_high, grade8_target)]
    next_place = 0
    for level, grade, n_schools, target in specs:
        sizes = _school_sizes(rng, n_schools, target, grade)
        tags = _demo_tags(tag_rng, sizes)
        for k, size in enumerate(sizes):
            place = places[next_place % len(places)]
            next_place += 1
            district = districts[(k * 3 + grade) % len(districts)]
            suffix_zh, suffix_en, code = ("國小", "Elementary School", "es") if grade == 5 else ("國中", "Junior High School", "jh")
            school = School(
                source_id=f"{code}-{k + 1:03d}",
                district_id=district.id,
                name_zh=f"{place}{suffix_zh}",
                name_en=f"{place} {suffix_en} ({code.upper()}{k + 1:02d})",
                level=level,
                tags=tags[k],
            )
            session.add(school)
            session.flush()
            n_classes = max(1, math.ceil(size / MAX_CLASS_SIZE))
            summary["one_class"] += n_classes == 1
            class_sizes = [size // n_classes + (1 if i < size % n_classes else 0) for i in range(n_classes)]
            for c, csize in enumerate(class_sizes, start=1):
                klass = SchoolClass(
                    source_id=f"{school.source_id}-g{grade}-{c:02d}",
                    school_id=school.id,
                    grade=grade,
                    name=f"{grade}年{c}班" if grade == 5 else f"八年{c}班",
                )
                session.add(klass)
                session.flush()
                summary["classes"] += 1
                for seat in range(1, csize + 1):
                    session.add(
                        Student(
                            source_id=f"{klass.source_id}-{seat:02d}",
                            class_id=klass.id,
                            family_name=_SURNAMES[int(rng.integers(len(_SURNAMES)))],
                            given_name=_GIVEN[int(rng.integers(len(_GIVEN)))] + _GIVEN[int(rng.integers(len(_GIVEN)))],
                            seat_number=seat,
                            gender=("F", "M")[int(rng.integers(2))],
                        )
                    )
                summary[grade] += csize
    session.flush()
    result = DemoCity(
        districts=len(districts),
        elementary_schools=n_elementary,
        junior_high_schools=n_junior_high,
        classes=summary["classes"],
        grade5_students=summary[5],
        grade8_students=summary[8],
        one_class_schools=summary["one_class"],
    )
    audit.record(session, actor, "roster.demo_city", f"seed={seed}", **result.__dict__)
    return result


SCHOOL_TAGS = {
    "technology-centre": ("科技中心學校", "Technology-centre school"),
    "mobile-learning": ("行動學習學校", "Mobile-learning school"),
    "remote": ("偏遠地區學校", "Remote school"),
}


def _demo_tags(rng: np.random.Generator, sizes: list[int]) -> list[list[str]]:
    """Realistic attributes: the one-class schools are remote; about 1 in 8 schools is a technology
    centre and about 1 in 4 a mobile-learning school (larger schools more often)."""
    n = len(sizes)
    weights = np.asarray(sizes, dtype=np.float64) / sum(sizes)
    tech = set(rng.choice(n, size=max(1, n // 8), replace=False, p=weights).tolist())
    mobile = set(rng.choice(n, size=max(1, n // 4), replace=False).tolist())
    out = []
    for k, size in enumerate(sizes):
        tags = [t for t, member in (("technology-centre", k in tech), ("mobile-learning", k in mobile),
                                    ("remote", size <= MAX_CLASS_SIZE)) if member]
        out.append(tags)
    return out


def _school_sizes(rng: np.random.Generator, n_schools: int, target: int, grade: int) -> list[int]:
    """Skewed school cohort sizes (a few big schools, several tiny ones) summing to `target`."""
    raw = rng.lognormal(mean=0.0, sigma=0.9, size=n_schools)
    # A quarter of the elementary schools are small rural/harbour schools with one class.
    n_small = min(n_schools // 4 if grade == 5 else 1, n_schools - 1)  # keep at least one regular school
    small = rng.integers(6, MAX_CLASS_SIZE, size=n_small)
    remaining = target - int(small.sum())
    big = raw[n_small:] / raw[n_small:].sum() * remaining
    sizes = np.maximum(np.round(big).astype(int), MAX_CLASS_SIZE + 1)
    sizes[np.argmax(sizes)] += remaining - int(sizes.sum())  # land exactly on the target
    return [int(s) for s in small] + [int(s) for s in sizes]
