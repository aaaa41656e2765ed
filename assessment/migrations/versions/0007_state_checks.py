"""CHECK constraints on the typed states (issue 12): attempts, sessions and items accept only their known values.

The values are those of assessment/states.py and item_bank.ItemStatus at this revision
(frozen here: a later change to the enums needs its own migration). Documented but never
set values are gone: an attempt is never `expired` (an overdue attempt is submitted with
the reason `deadline`) and never ends for the reason `proctor`; `replaced` (an attempt
superseded by re-imported scores) was set but undocumented and is kept.

Revision ID: 0007_state_checks
Revises: 0006_attempt_last_contact
Create Date: 2026-12-06 20:00:00
"""
from __future__ import annotations

from alembic import op

revision = "0007_state_checks"
down_revision = "0006_attempt_last_contact"
branch_labels = None
depends_on = None

_CHECKS = {
    "attempts": {
        "ck_attempts_status": "status IN ('not_started', 'in_progress', 'submitted', 'replaced')",
        "ck_attempts_submit_reason":
            "submit_reason IS NULL OR submit_reason IN ('student', 'deadline', 'session_closed', 'import')",
        "ck_attempts_source": "source IN ('online', 'import')",
    },
    "test_sessions": {"ck_test_sessions_status": "status IN ('open', 'paused', 'closed')"},
    "items": {"ck_items_status": "status IN ('draft', 'pilot', 'operational', 'retired')"},
}


def upgrade() -> None:
    for table, checks in _CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:  # SQLite: the table is rebuilt
            for name, condition in checks.items():
                batch_op.create_check_constraint(name, condition)


def downgrade() -> None:
    for table, checks in _CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in checks:
                batch_op.drop_constraint(name, type_="check")
