"""The question log, feedback votes and the bot's threads.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "question_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("answer_id", sa.String(32), nullable=False, unique=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("guild_id", sa.String(64)),
        sa.Column("channel_id", sa.String(64)),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("language", sa.String(8)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("lead", sa.Text),
        sa.Column("note_ids", sa.JSON, nullable=False),
        sa.Column("index_version", sa.String(64)),
        sa.Column("latency_ms", sa.Float),
        sa.CheckConstraint(
            "outcome IN ('answered', 'refused', 'rejected')", name="question_log_outcome"
        ),
    )
    op.create_index("ix_question_log_asked_at", "question_log", ["asked_at"])
    op.create_index("question_log_outcome_asked_at", "question_log", ["outcome", "asked_at"])
    op.create_table(
        "answer_votes",
        sa.Column(
            "answer_id",
            sa.String(32),
            sa.ForeignKey("question_log.answer_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_hash", sa.String(64), primary_key=True),
        sa.Column("vote", sa.SmallInteger, nullable=False),
        sa.Column("reason", sa.String(300)),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("vote IN (-1, 1)", name="answer_votes_vote"),
    )
    op.create_table(
        "bot_threads",
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("thread_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_bot_threads_created_at", "bot_threads", ["created_at"])


def downgrade() -> None:
    op.drop_table("bot_threads")
    op.drop_table("answer_votes")
    op.drop_table("question_log")
