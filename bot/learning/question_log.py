"""The question log: an intake observer that buffers one store row per question from chat.

It sees every outcome the intake reports (bot/serving/intake.py) and keeps the questions: answered or
refused by the engine, rejected at admission (empty, too long, rate-limited, restarting) or by an
error. The row is keyed on the request's public id, which is also what the feedback buttons under
the answer carry. The hot path only appends to the store's in-memory buffer: no I/O, no await.
"""

from __future__ import annotations

from bot.answer import Answer
from bot.serving.intake import Failed, Outcome, Refusal, Request
from bot.storage import Store

# Where questions come from the community; the console and `factbot ask` are the operator's own.
CHAT_PLATFORMS = frozenset({"discord", "slack"})


def shown_note_ids(answer: Answer) -> list[str]:
    """The fact-check notes an answer shows: its verdicts, then notes quoted as sources."""
    ids = [note.id for note in answer.factchecks]
    for source in answer.sources:
        if source.kind == "factcheck" and source.doc not in ids:
            ids.append(source.doc)
    return ids


def quoted_sentence_ids(answer: Answer) -> list[str]:
    """The article sentences an answer quoted, as canonical (original-language) chunk ids: the
    ids a note's `covers` names. An article source's id is already its unit's canonical id (a
    translation chunk is retrieved as its original's unit: `retrieval.unit_id`)."""
    ids: list[str] = []
    for source in answer.sources:
        if source.kind == "article" and source.id not in ids:
            ids.append(source.id)
    return ids


def shown_verdicts(answer: Answer) -> dict[str, str]:
    """The verdict of each note the answer showed."""
    return {note.id: note.verdict for note in answer.factchecks}


class QuestionLog:
    """`IntakeObserver` writing each chat question's outcome to the store (buffered)."""

    def __init__(self, store: Store, platforms: frozenset[str] = CHAT_PLATFORMS) -> None:
        self.store = store
        self.platforms = platforms

    def on_outcome(self, request: Request, outcome: Outcome, seconds: float) -> None:
        if request.kind != "ask" or request.platform not in self.platforms:
            return  # /factcheck and /sources are not questions
        question, language = request.text, None
        reason: str | None = None
        note_ids: list[str] = []
        index_version = None
        lead: str | None = None
        quoted: list[str] | None = None
        verdicts: dict[str, str] | None = None
        if isinstance(outcome, Answer):
            kept = "refused" if outcome.refused else "answered"
            question, language = outcome.question, outcome.language
            note_ids = shown_note_ids(outcome)
            index_version = outcome.index_version or None
            lead = outcome.lead.text if outcome.lead is not None else None
            quoted, verdicts = quoted_sentence_ids(outcome), shown_verdicts(outcome)
        elif isinstance(outcome, Refusal):
            kept, language, reason = "rejected", outcome.language, outcome.reason
        elif isinstance(outcome, Failed):
            kept, reason = "rejected", f"error: {type(outcome.error).__name__}"
        else:
            return
        self.store.log_question(
            platform=request.platform,
            user_id=request.user,
            question=question,
            outcome=kept,
            guild_id=request.guild,
            channel_id=request.channel,
            language=language,
            reason=reason,
            lead=lead,
            note_ids=note_ids,
            index_version=index_version,
            latency_ms=seconds * 1000.0,
            answer_id=request.id,
            # The thread it is answered in, when the request came from one (an adapter that
            # opens the thread afterwards calls `Store.answer_posted`).
            thread_id=request.conversation,
            quoted_ids=quoted,
            verdicts=verdicts,
        )
