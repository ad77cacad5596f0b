"""Question hygiene shared by every entry point: control characters, emptiness, length."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from bot.answer import Language
from bot.messages import text as message

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")

RejectReason = Literal["empty", "too_long"]


class QuestionRejected(ValueError):
    """The question cannot be answered as asked; `str(exc)` is the one line to show the user (in
    English; `message(language)` in another language)."""

    def __init__(self, reason: RejectReason, length: int = 0, limit: int = 0) -> None:
        self.reason: RejectReason = reason
        self.length = length
        self.limit = limit
        super().__init__(self.message("en"))

    def message(self, language: Language) -> str:
        return message(f"refusal.{self.reason}", language, length=self.length, limit=self.limit)


def clean_question(text: str, max_chars: int, allow_empty: bool = False) -> str:
    """Strip control and invisible characters and collapse spaces; reject huge input, and empty
    input unless `allow_empty` (an optional topic).

    Input longer than `max_chars` as received is rejected before anything reads it: the limit
    bounds every computation on what a user sends, cleaning included."""
    text = text or ""
    if len(text) > max_chars:
        raise QuestionRejected("too_long", len(text), max_chars)
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    if not text and not allow_empty:
        raise QuestionRejected("empty")
    if len(text) > max_chars:
        raise QuestionRejected("too_long", len(text), max_chars)
    return text
