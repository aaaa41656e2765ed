"""SQLAlchemy 2.0 typed models: the census system of record.

Items and parameter sets; the roster (districts, schools, classes, students);
staff users and the audit log; test windows, forms, sessions, attempts and
answers. Answers live here, never only in Redis.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from item_bank import ItemStatus

from .db import Base, UTCDateTime, utcnow
from .states import AttemptSource, AttemptStatus, CalibrationStatus, SessionStatus, SubmitReason

__all__ = [
    "Answer",
    "Attempt",
    "AuditEntry",
    "CalibrationRun",
    "District",
    "Form",
    "FormItem",
    "ItemParameterRecord",
    "ItemRecord",
    "ParameterSet",
    "ParameterSetPublication",
    "ResultAggregate",
    "ResultItemStat",
    "School",
    "SchoolClass",
    "ScoreRun",
    "Student",
    "StudentScore",
    "TestSession",
    "TestWindow",
    "User",
    "UserClass",
]


def _state(enum: type[Any], length: int) -> Enum:
    """A column holding a StrEnum's values as VARCHAR (loaded as members); migration 0007 adds the CHECK."""
    return Enum(enum, native_enum=False, create_constraint=False, length=length, validate_strings=True,
                values_callable=lambda members: [m.value for m in members])


# --- item bank ---------------------------------------------------------------

class ItemRecord(Base):
    """One version of an item; `content` is the canonical `Item.to_dict()`."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("item_id", "version"),)

    pk: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    dimension: Mapped[str] = mapped_column(String(4))
    grades: Mapped[str] = mapped_column(String(16))  # "5", "8" or "5,8"
    anchor: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[ItemStatus] = mapped_column(_state(ItemStatus, 16), index=True)
    max_score: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ParameterSet(Base):
    """A named, versioned set of IRT item parameters (provisional or calibrated)."""

    __tablename__ = "parameter_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    provisional: Mapped[bool] = mapped_column(Boolean, default=True)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # latent distribution per group of a calibrated set: [{"group", "mean", "sd", "se_mean", "se_sd", "n"}]
    groups: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    # where a set came from: {"kind": "calibration", "run"} or {"kind": "link", "from", "base", "method", "A", ...};
    # None for sets from the item files
    origin: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    parameters: Mapped[list[ItemParameterRecord]] = relationship(
        back_populates="parameter_set", cascade="all, delete-orphan"
    )


class ItemParameterRecord(Base):
    """An item's parameters within one parameter set (slope/intercept form)."""

    __tablename__ = "item_parameters"
    __table_args__ = (UniqueConstraint("parameter_set_id", "item_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parameter_set_id: Mapped[int] = mapped_column(ForeignKey("parameter_sets.id", ondelete="CASCADE"))
    item_pk: Mapped[int] = mapped_column(ForeignKey("items.pk"))
    model: Mapped[str] = mapped_column(String(8))
    a: Mapped[float] = mapped_column(Float)
    d: Mapped[list[Any]] = mapped_column(JSON)
    c: Mapped[float] = mapped_column(Float, default=0.0)
    se: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    parameter_set: Mapped[ParameterSet] = relationship(back_populates="parameters")
    item: Mapped[ItemRecord] = relationship()


# --- roster ------------------------------------------------------------------

class District(Base):
    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64), default="")

    schools: Mapped[list[School]] = relationship(back_populates="district")


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), unique=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128), default="")
    level: Mapped[str] = mapped_column(String(16))  # elementary | junior_high
    # attributes results are broken down by, e.g. ["technology-centre", "remote"]
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)

    district: Mapped[District] = relationship(back_populates="schools")
    classes: Mapped[list[SchoolClass]] = relationship(back_populates="school")


class SchoolClass(Base):
    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), unique=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    grade: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))

    school: Mapped[School] = relationship(back_populates="classes")
    students: Mapped[list[Student]] = relationship(back_populates="school_class")


class Student(Base):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), unique=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    family_name: Mapped[str] = mapped_column(String(64))
    given_name: Mapped[str] = mapped_column(String(64))
    seat_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gender: Mapped[str] = mapped_column(String(8), default="")  # "F", "M", "X" or ""

    school_class: Mapped[SchoolClass] = relationship(back_populates="students")

    @property
    def display_name(self) -> str:
        return f"{self.family_name}{self.given_name}"


# --- staff and audit ------------------------------------------------------------

class User(Base):
    """A staff account: admin, bureau, school_admin, proctor or researcher."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(128), default="")
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Every login cookie carries the version it was issued under; bumping it (logout, password change,
    # "sign out everywhere") makes every earlier cookie of this user, wherever copied, no login.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class UserClass(Base):
    """A class a teacher teaches: the teacher sees results of these classes only."""

    __tablename__ = "user_classes"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)


class AuditEntry(Base):
    """An append-only record of an administrative action."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # username, or "cli:<user>"
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str] = mapped_column(String(64), default="")


# --- test administration --------------------------------------------------------

class TestWindow(Base):
    """The unit results are computed for, e.g. the 113 academic-year census."""

    __tablename__ = "test_windows"
    __test__ = False  # not a pytest class

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    academic_year: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    parameter_set_id: Mapped[int | None] = mapped_column(ForeignKey("parameter_sets.id"), nullable=True)


class Form(Base):
    """A versioned test form built from a blueprint; frozen once a session uses it."""

    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    grade: Mapped[int] = mapped_column(Integer)
    time_limit_minutes: Mapped[int] = mapped_column(Integer)
    blueprint: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    shuffle_options: Mapped[bool] = mapped_column(Boolean, default=False)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[FormItem]] = relationship(
        back_populates="form", order_by="FormItem.position", cascade="all, delete-orphan"
    )


class FormItem(Base):
    __tablename__ = "form_items"
    __table_args__ = (UniqueConstraint("form_id", "position"), UniqueConstraint("form_id", "item_pk"))

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    item_pk: Mapped[int] = mapped_column(ForeignKey("items.pk"))

    form: Mapped[Form] = relationship(back_populates="items")
    item: Mapped[ItemRecord] = relationship()


class TestSession(Base):
    """A sitting of one class on one form, opened by a proctor."""

    __tablename__ = "test_sessions"
    __test__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("test_windows.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    time_limit_minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[SessionStatus] = mapped_column(_state(SessionStatus, 16), default=SessionStatus.OPEN)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    window: Mapped[TestWindow] = relationship()
    school_class: Mapped[SchoolClass] = relationship()
    form: Mapped[Form] = relationship()
    attempts: Mapped[list[Attempt]] = relationship(back_populates="session")


class Attempt(Base):
    """One student's sitting in one session, opened by a ticket."""

    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("session_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("test_sessions.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    ticket: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[AttemptStatus] = mapped_column(_state(AttemptStatus, 16), default=AttemptStatus.NOT_STARTED)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the late-delivery rule's lower bound: the start, then every answer stored before the deadline
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    extra_seconds: Mapped[int] = mapped_column(Integer, default=0)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    shuffle_seed: Mapped[int] = mapped_column(Integer, default=0)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    submit_reason: Mapped[SubmitReason | None] = mapped_column(_state(SubmitReason, 32), nullable=True)  # None: open
    source: Mapped[AttemptSource] = mapped_column(_state(AttemptSource, 16), default=AttemptSource.ONLINE)

    session: Mapped[TestSession] = relationship(back_populates="attempts")
    student: Mapped[Student] = relationship()
    answers: Mapped[list[Answer]] = relationship(back_populates="attempt")


class Answer(Base):
    """The latest acknowledged response of an attempt to one item (upsert by seq)."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("attempt_id", "item_pk"),
        Index("ix_answers_attempt", "attempt_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    item_pk: Mapped[int] = mapped_column(ForeignKey("items.pk"))
    seq: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)  # client's claim, clamped
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    attempt: Mapped[Attempt] = relationship(back_populates="answers")


# --- results --------------------------------------------------------------------

class ScoreRun(Base):
    """One scoring of a window's finished attempts with one parameter set; one run per window is current."""

    __tablename__ = "score_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("test_windows.id"), index=True)
    parameter_set_id: Mapped[int] = mapped_column(ForeignKey("parameter_sets.id"))
    current: Mapped[bool] = mapped_column(Boolean, default=False)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)  # data + parameters + settings + version
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    software_version: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    window: Mapped[TestWindow] = relationship()
    parameter_set: Mapped[ParameterSet] = relationship()


class StudentScore(Base):
    """A student's result in one run: EAP and WLE (theta), scale score, level, dimension profile, PVs."""

    __tablename__ = "student_scores"
    __table_args__ = (UniqueConstraint("run_id", "attempt_id"), Index("ix_student_scores_run_school", "run_id", "school_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("score_runs.id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    class_id: Mapped[int] = mapped_column(Integer)
    school_id: Mapped[int] = mapped_column(Integer)
    district_id: Mapped[int] = mapped_column(Integer)
    grade: Mapped[int] = mapped_column(Integer)
    gender: Mapped[str] = mapped_column(String(8), default="")
    eap: Mapped[float] = mapped_column(Float)
    eap_se: Mapped[float] = mapped_column(Float)
    wle: Mapped[float] = mapped_column(Float)
    wle_se: Mapped[float] = mapped_column(Float)
    scale_score: Mapped[float] = mapped_column(Float)
    scale_se: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(32))
    dimensions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # D1..D4: percent of max score
    pvs: Mapped[list[Any]] = mapped_column(JSON, default=list)  # plausible values (theta)
    n_presented: Mapped[int] = mapped_column(Integer)
    n_answered: Mapped[int] = mapped_column(Integer)
    n_omitted: Mapped[int] = mapped_column(Integer)
    n_not_reached: Mapped[int] = mapped_column(Integer)


class ResultAggregate(Base):
    """Group statistics of one run: a unit (class, school, district, city) x grade x subgroup.

    A suppressed row stores no statistic at all, so no view can leak it.
    """

    __tablename__ = "result_aggregates"
    __table_args__ = (
        UniqueConstraint("run_id", "level", "unit", "grade", "subgroup"),
        Index("ix_result_aggregates_run_level", "run_id", "level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("score_runs.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16))  # class | school | district | city
    unit: Mapped[str] = mapped_column(String(64))  # roster sourcedId, or "city"
    district_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    school_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    class_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    grade: Mapped[int] = mapped_column(Integer)
    subgroup: Mapped[str] = mapped_column(String(64), default="all")  # all | gender:F | tag:remote | not:remote
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    suppression: Mapped[str] = mapped_column(String(16), default="")  # "" | small | complementary
    n: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mean: Mapped[float | None] = mapped_column(Float, nullable=True)
    se: Mapped[float | None] = mapped_column(Float, nullable=True)
    sd: Mapped[float | None] = mapped_column(Float, nullable=True)
    sd_se: Mapped[float | None] = mapped_column(Float, nullable=True)
    ci_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    ci_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    percents: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # level code: [pct, se]
    dimensions: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # D1..D4: mean percent


class ResultItemStat(Base):
    """Percent of the maximum score on one item for a unit (class, school, district, city) x grade of one run.

    Suppressed with the unit's aggregate row (or when fewer students than the minimum saw the item); a
    suppressed row stores no statistic.
    """

    __tablename__ = "result_item_stats"
    __table_args__ = (
        UniqueConstraint("run_id", "level", "unit", "grade", "item_id"),
        Index("ix_result_item_stats_run_level_unit", "run_id", "level", "unit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("score_runs.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16))  # class | school | district | city
    unit: Mapped[str] = mapped_column(String(64))  # roster sourcedId, or "city"
    district_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    school_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    class_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    grade: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(64))  # as in the run's summary (id, or id-vN when versions mix)
    item_pk: Mapped[int] = mapped_column(Integer)  # the item version (items.pk)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    n: Mapped[int | None] = mapped_column(Integer, nullable=True)  # students the item was presented to
    pct: Mapped[float | None] = mapped_column(Float, nullable=True)  # mean score as percent of the item's maximum
    omitted_pct: Mapped[float | None] = mapped_column(Float, nullable=True)  # omitted or not reached, percent


# --- research ------------------------------------------------------------------


class CalibrationRun(Base):
    """A calibration of a window's responses (issue 11.2): its selection, settings, progress and outcome.

    Only a run that ends `done` has a parameter set (a draft: provisional, not
    published); a failed or cancelled run stores none.
    """

    __tablename__ = "calibration_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)  # the parameter set it makes
    window_id: Mapped[int] = mapped_column(ForeignKey("test_windows.id"), index=True)
    status: Mapped[CalibrationStatus] = mapped_column(_state(CalibrationStatus, 16), default=CalibrationStatus.QUEUED)
    selection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # window, grade; rows/items once read
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # model, groups, anchors, EM options
    software_version: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # step, iteration, loglik, change
    message: Mapped[str] = mapped_column(Text, default="")  # why it failed, or its warnings
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # fit statistics when done
    parameter_set_id: Mapped[int | None] = mapped_column(ForeignKey("parameter_sets.id", ondelete="SET NULL"),
                                                          nullable=True)

    window: Mapped[TestWindow] = relationship()
    parameter_set: Mapped[ParameterSet | None] = relationship()


class ParameterSetPublication(Base):
    """A set published for a window (issue 11.4): what it replaced and which items it moved, so it can be undone.

    The window's operational set is `TestWindow.parameter_set_id`; the publication
    not yet withdrawn that put it there is the one `unpublish` reverses.
    """

    __tablename__ = "parameter_set_publications"

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("test_windows.id"), index=True)
    parameter_set_id: Mapped[int] = mapped_column(ForeignKey("parameter_sets.id"))
    previous_set_id: Mapped[int | None] = mapped_column(ForeignKey("parameter_sets.id"), nullable=True)
    previous_provisional: Mapped[bool] = mapped_column(Boolean, default=True)  # the set's flag before publishing
    moved_items: Mapped[list[Any]] = mapped_column(JSON, default=list)  # item pks moved pilot -> operational
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    window: Mapped[TestWindow] = relationship()
    parameter_set: Mapped[ParameterSet] = relationship(foreign_keys=[parameter_set_id])
    previous_set: Mapped[ParameterSet | None] = relationship(foreign_keys=[previous_set_id])
