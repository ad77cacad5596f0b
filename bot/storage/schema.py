"""The store's tables, as SQLAlchemy Core `Table` objects the queries are written against.

The migrations in `migrations/versions/` create and change these tables; this module describes
the schema at the newest revision (a test checks that the two agree). Times are UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
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
    UniqueConstraint,
    true,
)

# Alembic's version table and the newest migration's revision (a test checks it is alembic's
# head) live with the light SQLite reader, which checks them without SQLAlchemy.
from bot.storage.note_rows import SCHEMA_HEAD as SCHEMA_HEAD
from bot.storage.note_rows import VERSION_TABLE as VERSION_TABLE

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
    # Where the answer was posted and what it said, to correct it when a note changes (0003):
    # the thread (NULL for a DM: its id identifies its user), the article sentences it quoted
    # (canonical chunk ids) and the verdict of each note it showed.
    Column("thread_id", String(64)),
    Column("quoted_ids", JSON),
    Column("verdicts", JSON),  # {note id: verdict}
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
    # False: a silent change (a typo fix): nobody is told about it (0003).
    Column("notify", Boolean, nullable=False, server_default=true()),
    CheckConstraint(f"action IN {NOTE_ACTIONS!r}", name="note_revisions_action"),
)

# ---------------------------------------------------------------- closing the loop (0003)

# "Tell me when it's answered": one member's question, asked again after every note change
# until it is answered, it expires (SUBSCRIPTION_DAYS) or the member erases their data.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("guild_id", String(64)),  # NULL: asked in a DM
    Column("channel_id", String(64)),  # NULL for a DM
    Column("thread_id", String(64)),  # the thread to reply in; NULL for a DM
    # A DM's target, sealed with the host key (bot/storage/hashing.py): readable by the bot
    # only, erased with the member.
    Column("dm_target", Text),
    Column("user_hash", String(64), nullable=False, index=True),
    Column("question", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("answer_id", String(32)),  # the answer it was made from (refused, or voted 👎)
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolution", String(16)),  # "answered" | "moderator"
)

NOTIFICATION_STATUSES = ("claimed", "sent", "failed")

# Every notification, claimed here before it is sent: the unique key makes exactly one host
# (or one process after a restart) send it. A row claimed but never marked is claimed again
# by one host once its lease has run out.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # "correction" | "answer"
    Column("target_key", String(160), nullable=False),  # the thread (or subscription) told
    Column("item_key", String(120), nullable=False),  # the note state, or "answer"
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("platform", String(16), nullable=False),
    Column("guild_id", String(64)),
    Column("user_hash", String(64), index=True),  # the subscriber told by DM, else NULL
    Column("payload", JSON, nullable=False),  # what to send again after a restart
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    UniqueConstraint("kind", "target_key", "item_key", name="notifications_once"),
    CheckConstraint(f"status IN {NOTIFICATION_STATUSES!r}", name="notifications_status"),
)
Index("notifications_status_claimed_at", notifications.c.status, notifications.c.claimed_at)

HANDOFF_STATUSES = ("open", "resolved")

# "Ask a moderator": a question handed to the community's moderators.
handoffs = Table(
    "handoffs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("public_id", String(32), nullable=False, unique=True),  # what the buttons carry
    Column("platform", String(16), nullable=False),
    Column("guild_id", String(64), nullable=False),  # a hand-off goes to one community's
    Column("channel_id", String(64)),
    Column("thread_id", String(64)),
    Column("user_hash", String(64), nullable=False, index=True),
    Column("question", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("answer_id", String(32)),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("resolved_at", DateTime(timezone=True)),
    CheckConstraint(f"status IN {HANDOFF_STATUSES!r}", name="handoffs_status"),
)
