"""attempts.last_contact_at: the late-delivery rule's lower bound, kept on the attempt (issue 12)

Before, the rule read max(answers.saved_at <= deadline); a late re-save of an
item rewrites its saved_at, which moved the bound back to the start. Existing
attempts get the value the old rule would give now (their last answer saved by
the deadline, else the start).

Revision ID: 0006_attempt_last_contact
Revises: 0005_result_item_stats
Create Date: 2026-12-08 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_attempt_last_contact"
down_revision = "0005_result_item_stats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE attempts SET last_contact_at = COALESCE("
        "(SELECT MAX(answers.saved_at) FROM answers WHERE answers.attempt_id = attempts.id "
        "AND answers.saved_at <= attempts.deadline_at), attempts.started_at) "
        "WHERE attempts.started_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("last_contact_at")
