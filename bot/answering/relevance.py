"""Decide whether the corpus answers a question at all (the honest refusal).

A cosine threshold alone cannot refuse French questions with the bundled English model (French
out-of-scope questions reach ~0.59 while some in-scope ones score ~0.41; see
docs/retrieval.md). Out-of-scope questions share almost no *rare* content words with
the corpus, so the gate combines the dense *margin* (closeness to the corpus minus closeness to a background
of typical off-topic chat questions, index/data/background.txt) with the IDF-weighted share of the
question's content words that the corpus contains. The thresholds are per language and were
calibrated with `factbot eval --calibrate` on tests/data/questions.jsonl (figures in the README).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.answer import Language


@dataclass(frozen=True)
class Gate:
    """Answer when margin >= `margin_alone`, or margin >= `margin_min` and coverage >= `coverage_min`.

    margin = best cosine to the corpus - best cosine to the background of off-topic questions.
    """

    margin_alone: float
    margin_min: float
    coverage_min: float

    def accepts(self, margin: float, coverage: float) -> bool:
        return margin >= self.margin_alone or (
            margin >= self.margin_min and coverage >= self.coverage_min
        )


# Calibrated on the public dev set (see README, "Answer quality").
GATES: dict[Language, Gate] = {
    "en": Gate(margin_alone=-0.14, margin_min=-0.3, coverage_min=0.9),
    "fr": Gate(margin_alone=0.04, margin_min=-0.3, coverage_min=0.85),
}


def is_relevant(
    language: Language, margin: float, coverage: float, gates: dict[Language, Gate] | None = None
) -> bool:
    """True when the question is in scope for the corpus."""
    return (gates or GATES)[language].accepts(margin, coverage)
