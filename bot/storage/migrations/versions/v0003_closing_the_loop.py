"""Closing the loop: where answers were posted and what they quoted, subscriptions,
notifications claimed once, hand-offs to moderators, and silent note changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("question_log", sa.Column("thread_id", sa.String(64)))
    op.add_column("question_log", sa.Column("quoted_ids", sa.JSON))
    op.add_column("question_log", sa.Column("verdicts", sa.JSON))
    op.add_column(
        "note_revisions",
        sa.Column("notify", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("guild_id", sa.String(64)),
        sa.Column("channel_id", sa.String(64)),
        sa.Column("thread_id", sa.String(64)),
        sa.Column("dm_target", sa.Text),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("answer_id", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolution", sa.String(16)),
    )
    op.create_index("ix_subscriptions_user_hash", "subscriptions", ["user_hash"])
    op.create_index("ix_subscriptions_created_at", "subscriptions", ["created_at"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target_key", sa.String(160), nullable=False),
        sa.Column("item_key", sa.String(120), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("guild_id", sa.String(64)),
        sa.Column("user_hash", sa.String(64)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("kind", "target_key", "item_key", name="notifications_once"),
        sa.CheckConstraint("status IN ('claimed', 'sent', 'failed')", name="notifications_status"),
    )
    op.create_index("ix_notifications_user_hash", "notifications", ["user_hash"])
    op.create_index("ix_notifications_created_at", "notifications", ["created_at"])
    op.create_index("notifications_status_claimed_at", "notifications", ["status", "claimed_at"])
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("guild_id", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.String(64)),
        sa.Column("thread_id", sa.String(64)),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("answer_id", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('open', 'resolved')", name="handoffs_status"),
    )
    op.create_index("ix_handoffs_user_hash", "handoffs", ["user_hash"])
    op.create_index("ix_handoffs_created_at", "handoffs", ["created_at"])


def downgrade() -> None:
    op.drop_table("handoffs")
    op.drop_table("notifications")
    op.drop_table("subscriptions")
    with op.batch_alter_table("note_revisions") as batch:
        batch.drop_column("notify")
    with op.batch_alter_table("question_log") as batch:
        batch.drop_column("verdicts")
        batch.drop_column("quoted_ids")
        batch.drop_column("thread_id")
