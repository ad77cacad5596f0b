"""Fact-check notes made or changed from chat, every version kept.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "note_revisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("note_id", sa.String(80), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("base_digest", sa.String(16)),
        sa.Column("author_name", sa.String(100), nullable=False),
        sa.Column("author_hash", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('added', 'edited', 'removed')", name="note_revisions_action"
        ),
    )
    op.create_index("ix_note_revisions_note_id", "note_revisions", ["note_id"])


def downgrade() -> None:
    op.drop_table("note_revisions")
