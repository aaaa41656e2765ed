"""users.session_version: server-side invalidation of staff login cookies (logout, password change, sign out everywhere)

Revision ID: 0004_user_session_version
Revises: 0003_census_results
Create Date: 2026-12-06 12:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_user_session_version"
down_revision = "0003_census_results"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
