"""The store's tables, as SQLAlchemy Core `Table` objects the queries are written against.

The migrations in `migrations/versions/` create and change these tables; this module describes
the schema at the newest revision (a test checks that the two agree). Times are UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

# Alembic's own bookkeeping table; named for the project so a shared PostgreSQL database can
# hold other applications' Alembic tables too.
VERSION_TABLE = "factbot_schema_version"
# The newest migration's revision (a test checks it is alembic's head): a database at it is used
# without importing alembic.
SCHEMA_HEAD = "0002"

OUTCOMES = ("answered", "refused", "rejected")

metadata = MetaData()

# One row per question received from chat.
question_log = Table(
    "question_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # The random public id the feedback buttons carry (never the row id: not guessable).
    Column("answer_id", String(32), nullable=False, unique=True),
    Column("asked_at", DateTime(timezone=True), nullable=False, index=True),
    Column("platform", String(16), nullable=False),
    Column("guild_id", String(64)),  # Discord guild or Slack workspace; NULL: a DM
    Column("channel_id", String(64)),  # NULL for a DM (a DM channel id identifies its user)
    Column("user_hash", String(64), nullable=False),  # HMAC-SHA256 hex, never the raw id
    Column("question", Text, nullable=False),
    Column("language", String(8)),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(200)),  # why a question was rejected (empty, too long, ...)
    Column("lead", Text),  # the answer's opening sentence, once answers have one
    Column("note_ids", JSON, nullable=False),  # fact-check notes shown, in order
    Column("index_version", String(64)),
    Column("latency_ms", Float),
    CheckConstraint(f"outcome IN {OUTCOMES!r}", name="question_log_outcome"),
)
Index("question_log_outcome_asked_at", question_log.c.outcome, question_log.c.asked_at)

# One vote per user per answer; a new vote replaces the previous one.
answer_votes = Table(
    "answer_votes",
    metadata,
    Column(
        "answer_id",
        String(32),
        ForeignKey("question_log.answer_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_hash", String(64), primary_key=True),
    Column("vote", SmallInteger, nullable=False),  # +1 or -1
    Column("reason", String(300)),  # optional, with a 👎
    Column("voted_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("vote IN (-1, 1)", name="answer_votes_vote"),
)

# Threads (Discord) or conversations (Slack threads) the bot opened: follow-ups there need no
# new mention, also after a restart.
bot_threads = Table(
    "bot_threads",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("thread_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

NOTE_ACTIONS = ("added", "edited", "removed")

# Every change to a fact-check note made from chat; the newest row per note is what is served
# (over the corpus file with that id, unless the file changed after it). The row id is the
# revision: hosts compare the newest one to know whether their index is current.
note_revisions = Table(
    "note_revisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("note_id", String(80), nullable=False, index=True),
    Column("action", String(16), nullable=False),
    Column("body", Text),  # the note as a corpus file's text; NULL for a removal
    Column("base_digest", String(16)),  # digest of the corpus file the change was made over
    Column("author_name", String(100), nullable=False),  # display name, for attribution
    Column("author_hash", String(64), nullable=False),  # HMAC-SHA256 of the user id
    Column("platform", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(f"action IN {NOTE_ACTIONS!r}", name="note_revisions_action"),
)
