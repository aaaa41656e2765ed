"""census results: scoring runs, student scores, aggregates; school tags; imported attempts; teacher classes

Revision ID: 0003_census_results
Revises: 0002_attempt_submit_reason
Create Date: 2026-12-06 15:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_census_results"
down_revision = "0002_attempt_submit_reason"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schools", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=False, server_default="online"))

    op.create_table(
        "user_classes",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["class_id"], ["classes.id"], name=op.f("fk_user_classes_class_id_classes"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_classes_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "class_id", name=op.f("pk_user_classes")),
    )
    op.create_table(
        "score_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("parameter_set_id", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("software_version", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parameter_set_id"], ["parameter_sets.id"],
                                name=op.f("fk_score_runs_parameter_set_id_parameter_sets")),
        sa.ForeignKeyConstraint(["window_id"], ["test_windows.id"], name=op.f("fk_score_runs_window_id_test_windows")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_runs")),
    )
    with op.batch_alter_table("score_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_score_runs_window_id"), ["window_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_score_runs_fingerprint"), ["fingerprint"], unique=False)

    op.create_table(
        "student_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("gender", sa.String(length=8), nullable=False),
        sa.Column("eap", sa.Float(), nullable=False),
        sa.Column("eap_se", sa.Float(), nullable=False),
        sa.Column("wle", sa.Float(), nullable=False),
        sa.Column("wle_se", sa.Float(), nullable=False),
        sa.Column("scale_score", sa.Float(), nullable=False),
        sa.Column("scale_se", sa.Float(), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("pvs", sa.JSON(), nullable=False),
        sa.Column("n_presented", sa.Integer(), nullable=False),
        sa.Column("n_answered", sa.Integer(), nullable=False),
        sa.Column("n_omitted", sa.Integer(), nullable=False),
        sa.Column("n_not_reached", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"], name=op.f("fk_student_scores_attempt_id_attempts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["score_runs.id"], name=op.f("fk_student_scores_run_id_score_runs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_student_scores_student_id_students")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_student_scores")),
        sa.UniqueConstraint("run_id", "attempt_id", name=op.f("uq_student_scores_run_id_attempt_id")),
    )
    with op.batch_alter_table("student_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_student_scores_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_student_scores_student_id"), ["student_id"], unique=False)
        batch_op.create_index("ix_student_scores_run_school", ["run_id", "school_id"], unique=False)

    op.create_table(
        "result_aggregates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("class_id", sa.Integer(), nullable=True),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("subgroup", sa.String(length=64), nullable=False),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("suppression", sa.String(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("mean", sa.Float(), nullable=True),
        sa.Column("se", sa.Float(), nullable=True),
        sa.Column("sd", sa.Float(), nullable=True),
        sa.Column("sd_se", sa.Float(), nullable=True),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("percents", sa.JSON(), nullable=True),
        sa.Column("dimensions", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["score_runs.id"], name=op.f("fk_result_aggregates_run_id_score_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_aggregates")),
        sa.UniqueConstraint("run_id", "level", "unit", "grade", "subgroup", name=op.f("uq_result_aggregates_run_id_level_unit_grade_subgroup")),
    )
    with op.batch_alter_table("result_aggregates", schema=None) as batch_op:
        batch_op.create_index("ix_result_aggregates_run_level", ["run_id", "level"], unique=False)


def downgrade() -> None:
    op.drop_table("result_aggregates")
    op.drop_table("student_scores")
    op.drop_table("score_runs")
    op.drop_table("user_classes")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("source")
    with op.batch_alter_table("schools", schema=None) as batch_op:
        batch_op.drop_column("tags")
