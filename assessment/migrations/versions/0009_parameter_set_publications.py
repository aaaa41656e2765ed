"""parameter_set_publications: publishing a set for a window, reversibly (issue 11.4); parameter_sets.origin

A publication records the window, the set published, the set it replaced and the
item versions it moved from pilot to operational, so `ctcensus params unpublish`
can restore the previous set and move those items back. `parameter_sets.origin`
says where a set came from (a calibration run, or a link onto a base set with its
constants); item-file sets have none.

Revision ID: 0009_parameter_set_publications
Revises: 0008_calibration_runs
Create Date: 2026-12-08 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_parameter_set_publications"
down_revision = "0008_calibration_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parameter_set_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("parameter_set_id", sa.Integer(), nullable=False),
        sa.Column("previous_set_id", sa.Integer(), nullable=True),
        sa.Column("previous_provisional", sa.Boolean(), nullable=False),
        sa.Column("moved_items", sa.JSON(), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_by", sa.String(length=64), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["window_id"], ["test_windows.id"],
                                name=op.f("fk_parameter_set_publications_window_id_test_windows")),
        sa.ForeignKeyConstraint(["parameter_set_id"], ["parameter_sets.id"],
                                name=op.f("fk_parameter_set_publications_parameter_set_id_parameter_sets")),
        sa.ForeignKeyConstraint(["previous_set_id"], ["parameter_sets.id"],
                                name=op.f("fk_parameter_set_publications_previous_set_id_parameter_sets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parameter_set_publications")),
    )
    with op.batch_alter_table("parameter_set_publications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_parameter_set_publications_window_id"), ["window_id"], unique=False)
    with op.batch_alter_table("parameter_sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("parameter_sets", schema=None) as batch_op:
        batch_op.drop_column("origin")
    op.drop_table("parameter_set_publications")
