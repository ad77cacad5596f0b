"""The verdict vocabulary: the one table of the verdicts a fact-check note may carry.

The corpus validator accepts exactly the names in `VERDICTS`; every rendering (plain text,
Discord, Slack) takes its label, mark, emoji and colour from here. It lives beside the corpus
loader, not in `bot/`, because the verdicts are part of the corpus format (`corpus/README.md`)
and the index layer must not depend on the bot; it is plain data, so importing it pulls in no
chat library.

A verdict the table does not know (an index built by other code) renders as a warning: a note
must never pass for an accurate one by default.

`rating_value` places a verdict on the numeric scale of the ClaimReview export
(`bot/notes/claimreview.py`): WORST_RATING (false) to BEST_RATING (true), as Google's fact-check guide
asks every numeric rating to come with its number-to-text table. "opinion" and "unverifiable"
have none: neither is a degree of truth, and the guide requires only the textual rating.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# Embed colours (0xRRGGBB), the same as discord.py's Colour.green() and Colour.orange().
GREEN = 0x2ECC71
ORANGE = 0xE67E22

# The ClaimReview rating scale: 1 inaccurate, 2 misleading or outdated, 4 mostly accurate,
# 5 accurate (3, "half true", is a verdict the corpus does not use).
WORST_RATING = 1
BEST_RATING = 5


@dataclass(frozen=True)
class Verdict:
    """How one verdict reads and looks on every platform."""

    name: str  # the corpus value (`verdict:` in a note's front matter)
    labels: Mapping[str, str]  # language ("fr", "en") -> the reader-facing label
    warning: bool  # True: the quoted sentence is not to be taken at face value
    mark: str  # plain text (console, the JSON `answer`)
    emoji: str  # Unicode emoji (Discord embeds)
    shortcode: str  # Slack emoji shortcode
    colour: int  # embed colour, 0xRRGGBB
    # WORST_RATING..BEST_RATING, how true the claim is as it reads today; None: not a degree of
    # truth (an opinion, an unverifiable claim), exported with its textual rating only.
    rating_value: int | None = None

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.name


def _sound(name: str, en: str, fr: str, shortcode: str, rating: int | None) -> Verdict:
    return Verdict(name, {"en": en, "fr": fr}, False, "✓", "✅", shortcode, GREEN, rating)


def _warning(name: str, en: str, fr: str, shortcode: str, rating: int | None = None) -> Verdict:
    return Verdict(name, {"en": en, "fr": fr}, True, "⚠", "⚠️", shortcode, ORANGE, rating)


# In the order the validator lists them in its error message.
VERDICTS: Mapping[str, Verdict] = MappingProxyType(
    {
        v.name: v
        for v in (
            _sound("accurate", "Accurate", "Exact", ":white_check_mark:", 5),
            _sound(
                "mostly-accurate", "Mostly accurate", "Plutôt exact", ":ballot_box_with_check:", 4
            ),
            _warning("misleading", "Misleading", "Trompeur", ":warning:", 2),
            _warning("inaccurate", "Inaccurate", "Inexact", ":x:", 1),
            # True when written, not as it reads today (a date passed, a plan came to nothing).
            _warning("outdated", "Outdated", "Dépassé", ":hourglass:", 2),
            _warning("unverifiable", "Unverifiable", "Invérifiable", ":grey_question:", None),
            _warning(
                "opinion", "Opinion, not fact", "Opinion, pas un fait", ":speech_balloon:", None
            ),
        )
    }
)


# Most serious first: how a reliability answer orders the notes it lists and the scorecard its
# counts (an unknown verdict ranks with the warnings, after the known ones).
SEVERITY: tuple[str, ...] = (
    "inaccurate",
    "misleading",
    "outdated",
    "unverifiable",
    "opinion",
    "mostly-accurate",
    "accurate",
)


def severity_rank(name: str) -> int:
    """Where `name` sorts in `SEVERITY` (0 most serious); an unknown verdict sorts after the
    known warnings, before the sound verdicts."""
    if name in SEVERITY:
        return 2 * SEVERITY.index(name)
    return 2 * SEVERITY.index("mostly-accurate") - 1


def verdict(name: str) -> Verdict:
    """The table entry for `name`; an unknown name gets a warning entry labelled with itself."""
    known = VERDICTS.get(name)
    return known if known is not None else _warning(name, name, name, ":grey_question:")


def is_warning(name: str) -> bool:
    """Whether a note with this verdict says "do not take the quoted sentence at face value"."""
    return verdict(name).warning
