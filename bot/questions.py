"""Question hygiene shared by every entry point: control characters, emptiness, length."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


class QuestionRejected(ValueError):
    """The question cannot be answered as asked; `str(exc)` is the one line to show the user."""


def clean_question(text: str, max_chars: int) -> str:
    """Strip control and invisible characters and collapse spaces; reject empty or huge input."""
    text = unicodedata.normalize("NFC", text or "")
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    if not text:
        raise QuestionRejected("Please type a question (the message was empty).")
    if len(text) > max_chars:
        raise QuestionRejected(
            f"That question is {len(text)} characters long; the limit is {max_chars}. "
            "Please shorten it."
        )
    return text
