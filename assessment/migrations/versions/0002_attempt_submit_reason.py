"""attempts.submit_reason: why an attempt ended (student, deadline, session_closed, proctor)

Revision ID: 0002_attempt_submit_reason
Revises: 0001_baseline
Create Date: 2026-11-27 12:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_attempt_submit_reason"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submit_reason", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("submit_reason")
