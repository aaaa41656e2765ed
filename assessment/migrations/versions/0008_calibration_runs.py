"""calibration_runs: calibrations of a window's responses from the database (issue 11.2); parameter_sets.groups

A run records its selection, settings, software version, progress, outcome and, when
done, the draft parameter set it made; `parameter_sets.groups` holds a calibrated
set's latent mean and SD per group (as `ctcensus calibrate` writes OUT.groups.csv).

Revision ID: 0008_calibration_runs
Revises: 0007_state_checks
Create Date: 2026-12-06 21:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_calibration_runs"
down_revision = "0007_state_checks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calibration_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("software_version", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("parameter_set_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["window_id"], ["test_windows.id"],
                                name=op.f("fk_calibration_runs_window_id_test_windows")),
        sa.ForeignKeyConstraint(["parameter_set_id"], ["parameter_sets.id"],
                                name=op.f("fk_calibration_runs_parameter_set_id_parameter_sets"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_runs")),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed', 'cancelled')",
                           name="ck_calibration_runs_status"),
    )
    with op.batch_alter_table("calibration_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calibration_runs_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_calibration_runs_window_id"), ["window_id"], unique=False)
    with op.batch_alter_table("parameter_sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("groups", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("parameter_sets", schema=None) as batch_op:
        batch_op.drop_column("groups")
    op.drop_table("calibration_runs")
