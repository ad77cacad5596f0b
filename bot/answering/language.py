"""Tell French questions from English ones, cheaply and without a model.

Written for chat: no-accent French ("c quoi", "ca decolle qd"), chat English, and a few English
words in a French question (or the reverse) do not decide on their own.
"""

from __future__ import annotations

import re

from bot.answer import Language
from index.lru import MiB, memo
from index.text import fold, plain_quotes

# Words that only one of the two languages uses in questions (accent-folded, no-accent spelling
# included: chat French drops accents). Shared words ("mission", "article", "on") count for none.
_FR_WORDS = frozenset(
    """
    le la les des du une est sont que qui quoi quand quel quelle quels quelles comment pourquoi
    combien ou et dans sur pour avec pas ce cette ces au aux vraiment il elle ils elles on
    c'est qu'est-ce est-ce lune chine francais francaise je tu nous vous ca ete etait etaient
    avait avaient apres avant deja aussi encore toujours alors donc sinon mais quelque chose
    autre autres parle parler fait faire dit dire veut veulent peut peuvent doit y a-t-il
    t'es j'ai c'etait l'article selon ou genre juste au juste bien oui non moi toi lui leur
    spationaute fusee decolle decoller lance lancee pese pesait combien annee date lieu
    bonjour bonsoir salut coucou slt bjr merci mrc stp svp aide resume fiable
    """.split()
)
_EN_WORDS = frozenset(
    """
    the is are was were what when who whom how why which did does do of in on for with this that
    these those to from it its has have had will would can could should really moon china
    french about tell where whats who's what's i you he she they we my your his her their
    and or but so any some many much there than then just also still ever never anyway
    launched launch land landed weigh weighed rocket find found bring brought back say says
    said supposed actually right now people please thanks hey hello hi thx help
    """.split()
)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_ACCENTS = re.compile(r"[éèêëàâîïôûùüçœæ]")
_ELISION = re.compile(r"^(?:l|d|qu|j|n|s|c|t|m)'")


# Keyed on questions (at most MAX_QUESTION_CHARS each, bot/serving/intake.py), bounded in bytes too.
@memo(capacity=4096, max_bytes=2 * MiB)
def detect_language(text: str) -> Language:
    """'fr' or 'en' for a chat question: marker words (no-accent French and chat English
    included), French accents and elisions. Ties go to French only when French evidence exists."""
    lower = plain_quotes(text.lower())
    folded = fold(lower)
    words = _WORD.findall(folded)
    # Counted by set look-ups in C; an elision only needs a look in a word with an apostrophe.
    fr: float = sum(map(_FR_WORDS.__contains__, words))
    if "'" in folded:
        fr += sum(1 for w in words if "'" in w and w not in _FR_WORDS and _ELISION.match(w))
    if not lower.isascii():  # every accent is outside ASCII
        fr += 0.5 * len(_ACCENTS.findall(lower))
    en = sum(map(_EN_WORDS.__contains__, words))
    return "fr" if fr > en else "en"
