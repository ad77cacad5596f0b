"""Members' data rights: what the bot keeps about one member, for how long, and erasing it.

Platform-independent: `/privacy` on Discord and Slack and `factbot forget` call these and only
render the result (the wording is in bot/messages.py).

    privacy = MemberPrivacy(store)
    kept = await privacy.kept("discord", user_id)      # Kept: counts and retention
    erased = await privacy.erase("discord", user_id)   # Erased: what was deleted

A member is found by the keyed hash of their platform user id (bot/storage/hashing.py): the raw
id is never stored, so erasing needs the id the platform gives with their request, hashed with
the host's key. What is erased: their questions (every `question_log` row with their hash, with
every vote on those answers) and their votes (`answer_votes`). The bot's thread memory
(`bot_threads`) holds no user. The conversation memory (the last few questions of a thread, for
follow-ups) lives only in the process and is forgotten after 30 minutes.

What is not erased: the note revisions a moderator made (`note_revisions.author_name` and
`author_hash`). They are the attribution of published work: every community reads those notes,
the ClaimReview export carries them, and `/note history` must say who changed what so that a
change can be reviewed and undone. They are counted in `kept` so that a moderator is told; an
operator can still edit the row by hand for a request that must go further.

Their subscriptions ("tell me when it's answered", with the DM target sealed with the host key)
and their questions handed to moderators are found by the same keyed hash and erased with the
rest, with the notifications kept for their DM; an erased member's earlier answers are no longer
corrected (the rows that said where they were posted are gone).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.answer import Language
from bot.logs import user_tag
from bot.messages import text
from bot.storage import StorageError, Store

log = logging.getLogger("factbot.privacy")


class PrivacyUnavailable(Exception):
    """The database cannot be reached now: one line for the member and the log."""


@dataclass(frozen=True)
class Kept:
    """What the bot keeps about one member now, and for how long."""

    questions: int
    votes: int
    subscriptions: int
    note_revisions: int  # notes they changed as a moderator: kept (published work)
    retention_days: int
    logging: bool  # False with LOG_QUESTIONS=off: nothing new is kept


@dataclass(frozen=True)
class Erased:
    """What one erasure deleted."""

    questions: int
    votes: int
    subscriptions: int = 0


class MemberPrivacy:
    """Members' data rights over one `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def kept(self, platform: str, user_id: str) -> Kept:
        """What is kept about this member; raises `PrivacyUnavailable` (one line)."""
        return await asyncio.to_thread(self.kept_now, platform, user_id)

    async def erase(self, platform: str, user_id: str) -> Erased:
        """Erase this member's questions and votes; raises `PrivacyUnavailable` (one line)."""
        return await asyncio.to_thread(self.erase_now, platform, user_id)

    def kept_now(self, platform: str, user_id: str) -> Kept:
        """`kept`, synchronously (the CLI; a worker thread)."""
        try:
            rows = self.store.member_rows(platform, user_id)
        except StorageError as exc:
            raise PrivacyUnavailable(str(exc)) from exc
        return Kept(
            questions=rows.questions,
            votes=rows.votes,
            subscriptions=rows.subscriptions,
            note_revisions=rows.note_revisions,
            retention_days=self.store.retention.days,
            logging=self.store.logging_enabled,
        )

    def erase_now(self, platform: str, user_id: str) -> Erased:
        """`erase`, synchronously (the CLI; a worker thread)."""
        try:
            rows = self.store.erase_member(platform, user_id)
        except StorageError as exc:
            raise PrivacyUnavailable(str(exc)) from exc
        erased = Erased(rows.questions, rows.votes, rows.subscriptions)
        # The tag, never the id: the log must not name whose data was erased in clear.
        log.info(
            "privacy: erased the data of %s: %d question(s), %d vote(s), %d subscription(s), "
            "%d hand-off(s)",
            user_tag(platform, user_id),
            erased.questions,
            erased.votes,
            erased.subscriptions,
            rows.handoffs,
        )
        return erased


def kept_lines(kept: Kept, language: Language) -> list[str]:
    """The private `/privacy` summary, one line each."""
    lines = [
        text(
            "privacy.kept",
            language,
            questions=kept.questions,
            votes=kept.votes,
            subscriptions=kept.subscriptions,
        ),
        text("privacy.retention", language, days=kept.retention_days)
        if kept.logging
        else text("privacy.logging_off", language),
        text("privacy.hashed", language),
    ]
    if kept.note_revisions:
        lines.append(text("privacy.notes_kept", language, revisions=kept.note_revisions))
    lines.append(text("privacy.erase_hint", language))
    return lines


def erased_line(erased: Erased, language: Language) -> str:
    """The one line that confirms an erasure."""
    return text(
        "privacy.erased",
        language,
        questions=erased.questions,
        votes=erased.votes,
        subscriptions=erased.subscriptions,
    )
