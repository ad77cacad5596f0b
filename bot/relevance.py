"""Decide whether the corpus answers a question at all (the honest refusal).

A cosine threshold alone cannot refuse French questions with the bundled English model (French
out-of-scope questions reach ~0.59 while some in-scope ones score ~0.41; see
../shared/retrieval-notes.md). Out-of-scope questions share almost no *rare* content words with
the corpus, so the gate combines the best dense score with the IDF-weighted share of the
question's content words that the corpus contains. The thresholds are per language and were
calibrated with `factbot eval --calibrate` on tests/data/questions.jsonl (figures in the README).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.answer import Language


@dataclass(frozen=True)
class Gate:
    """Answer when dense >= `dense_alone`, or dense >= `dense_min` and coverage >= `coverage_min`."""

    dense_alone: float
    dense_min: float
    coverage_min: float

    def accepts(self, dense: float, coverage: float) -> bool:
        return dense >= self.dense_alone or (
            dense >= self.dense_min and coverage >= self.coverage_min
        )


# Calibrated on the public dev set (see README, "Answer quality").
GATES: dict[Language, Gate] = {
    "en": Gate(dense_alone=0.55, dense_min=0.30, coverage_min=0.45),
    "fr": Gate(dense_alone=0.70, dense_min=0.35, coverage_min=0.50),
}


def is_relevant(
    language: Language, dense: float, coverage: float, gates: dict[Language, Gate] | None = None
) -> bool:
    """True when the question is in scope for the corpus."""
    return (gates or GATES)[language].accepts(dense, coverage)
