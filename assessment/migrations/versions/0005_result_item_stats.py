"""result_item_stats: percent of the maximum score per item, unit and grade of a scoring run (what to reteach)

Revision ID: 0005_result_item_stats
Revises: 0004_user_session_version
Create Date: 2026-12-06 17:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_result_item_stats"
down_revision = "0004_user_session_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "result_item_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("class_id", sa.Integer(), nullable=True),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("pct", sa.Float(), nullable=True),
        sa.Column("omitted_pct", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["score_runs.id"], name=op.f("fk_result_item_stats_run_id_score_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_item_stats")),
        sa.UniqueConstraint("run_id", "level", "unit", "grade", "item_id",
                            name=op.f("uq_result_item_stats_run_id_level_unit_grade_item_id")),
    )
    with op.batch_alter_table("result_item_stats", schema=None) as batch_op:
        batch_op.create_index("ix_result_item_stats_run_level_unit", ["run_id", "level", "unit"], unique=False)


def downgrade() -> None:
    op.drop_table("result_item_stats")
