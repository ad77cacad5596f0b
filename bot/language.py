"""Tell French questions from English ones, cheaply and without a model."""

from __future__ import annotations

import re

from bot.answer import Language

_FR_MARKERS = frozenset(
    """
    le la les des du une est sont que qui quoi quand quel quelle quels quelles comment pourquoi
    combien où ou et dans sur pour avec pas ce cette ces au aux vraiment il elle ils elles on
    a-t-il a-t-elle est-ce qu'est-ce c'est quelles lune chine france français française
    """.split()
)
_EN_MARKERS = frozenset(
    """
    the is are was were what when who whom how why which did does do of in on for with this that
    these those to from it its has have had will would can could should really moon china france
    french about tell
    """.split()
)
_WORD = re.compile(r"[a-zà-öø-ÿ'-]+")
_ACCENTS = re.compile(r"[éèêëàâîïôûùüçœæ]")


def detect_language(text: str) -> Language:
    """'fr' or 'en' for a question: marker words, French accents and elisions."""
    lower = text.lower().replace("’", "'")
    words = _WORD.findall(lower)
    fr = sum(1 for w in words if w in _FR_MARKERS) + 0.5 * len(_ACCENTS.findall(lower))
    fr += sum(1 for w in words if re.match(r"^(l|d|qu|j|n|s|c)'", w))
    en = sum(1 for w in words if w in _EN_MARKERS)
    return "fr" if fr > en else "en"
