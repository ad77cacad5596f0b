"""An honest refusal for near misses: does the corpus hold what the question is *about*?

The refusal gate (bot/answering/relevance.py) lets a question through when its words match the corpus.
"What did Chang'e 8 find?", "when does Artemis return to the Moon?" or "how old is Thomas
Pesquet?" match plenty of words; what the corpus lacks is the thing they centre on. `CorpusFocus`
is built once per index from the text of its chunks (articles and notes) and checks, per
question, three things the corpus can be shown not to hold:

- a **designation** it never uses: a name the corpus numbers ("Chang'e 4", "Chang'e 6") or names
  ("Apollo" basin) asked with another number ("Chang'e 8", "Apollo 11");
- a **name** it never mentions: a word that is neither in the corpus nor in the general
  vocabulary of either language (the glossary, the stop words, the lower-case words of the
  background chat questions), nor one typo away from a corpus word ("artemis", "spacex");
- a **fact of a kind** it does not hold: an age, a birth, a cost, a population, the weather or a
  head count anywhere in the corpus; or a date, a quantity or a duration about the specific
  entity asked about (no corpus sentence naming "Chang'e 4" holds a date).

`check` returns a `NearMiss` (what is not covered, for "L'article ne parle pas de Chang'e 8.") or
None. It is cheap per question (set look-ups over a dozen words); everything else is built once.
`CorpusFocus` also finds the entities a question names, for thread context (bot/answering/conversation.py),
and corrects typos against the corpus vocabulary (bot/answering/chattext.py `Speller`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Container, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Literal, Protocol

from bot.answer import Language
from bot.answering.chattext import (
    Speller,
    differs_only_at_the_end,
    edits1,
    typo_candidates,
)
from bot.answering.lexicon import (
    ELISION,
    MONTHS,
    TOKEN,
    Lexicon,
    computed_lexicon,
    question_tokens,
    word_stems,
)
from bot.messages import text as message
from index.lru import Memo, MiB
from index.store import LoadedIndex
from index.text import STOPWORDS, fold, plain_quotes, split_sentences

MissKind = Literal["designation", "name", "fact"]

# A name followed by a small number: "Chang'e 6", "Tiangong-2", "shenzhou 11", "Long March 2C".
# Years (four digits) and quantities ("15 kg") are not designations.
_DESIGNATION = re.compile(r"([a-z][a-z'-]*[a-z]|[a-z])[\s-]?(\d{1,3}[a-z]?)(?![\d,.]\d|\d)")
_YEAR_OR_DATE = re.compile(
    r"\b(?:1[89]\d\d|20\d\d)\b|\b\d{1,2}(?:er)? (?:jan|fev|feb|mar|avr|apr|mai|may|juin|june|juil"
    r"|jul|aou|aug|sep|oct|nov|dec)"
)
_QUANTITY = re.compile(r"\d")
_DIGIT = re.compile(r"\d")
_DURATION = re.compile(
    r"\b\d+(?:[.,]\d+)? ?(?:h|hours?|heures?|days?|jours?|weeks?|semaines?|months?|mois|years?"
    r"|ans|minutes?)\b"
)


@dataclass(frozen=True)
class NearMiss:
    """What the question centres on that the corpus does not cover."""

    kind: MissKind
    subject: str  # "Chang'e 8", "artemis", "Thomas Pesquet"
    fact: str | None = None  # for kind "fact": "age", "birth", "cost", "date"…

    @property
    def reason(self) -> str:
        return f"{self.kind}:{self.subject}" + (f":{self.fact}" if self.fact else "")

    def message(self, language: Language) -> str:
        """One line for the user: what the article and its notes do not cover."""
        if self.kind == "fact" and self.fact:
            what = message(f"near_miss.fact.{self.fact}", language)
            if self.subject:
                return message("near_miss.fact_of", language, what=what, subject=self.subject)
            return message("near_miss.fact", language, what=what)
        return message("near_miss.subject", language, subject=self.subject)


@dataclass(frozen=True)
class _FactKind:
    name: str
    asks: re.Pattern[str]  # on the folded question
    holds: re.Pattern[str]  # on folded corpus text


# Kinds of fact a question may ask for, and what a corpus holding one looks like. Corpus-wide
# kinds: if no sentence of the corpus holds one, nobody in it has one.
_GLOBAL_KINDS = (
    _FactKind(
        "age",
        re.compile(r"\b(?:quel age|how old|son age|his age|her age|l'age de|age of|aged?)\b"),
        re.compile(r"\b\d+ (?:ans|years? old)\b|\baged? \d+|\bagee? de \d+"),
    ),
    _FactKind(
        "birth",
        re.compile(
            r"\b(?:(?:est|etait|etaient|suis|es) nee?s?|nee?s? (?:a|en|au|aux|dans|ou)|naissance"
            r"|born|birth\w*)\b"
        ),
        re.compile(r"\bnee?s? (?:le|en|a)\b|\bborn\b|\bnaissance\b|\bbirth"),
    ),
    _FactKind(
        "cost",
        re.compile(
            r"\b(?:cout\w*|coute\w*|cost\w*|price\w*|prix|budget\w*|tarif\w*|how much money"
            r"|combien d'argent|pay for|paid for|payer pour|finance\w*)\b"
        ),
        re.compile(
            r"[€$£]|\b(?:euros?|dollars?|yuans?|usd|eur|couts?|costs?|budgets?|prix|price)\b"
        ),
    ),
    _FactKind(
        "population",
        re.compile(r"\b(?:population|habitants|inhabitants|people live|gens vivent)\b"),
        re.compile(r"\b(?:population|habitants|inhabitants)\b"),
    ),
    _FactKind(
        "weather",
        re.compile(
            r"\b(?:meteo|weather|forecast|quel temps|il fait (?:beau|chaud|froid)|temperature"
            r"|pleuvoir|pleut|rain\w*)\b"
        ),
        re.compile(r"\b(?:meteo|weather|temperatures?|degres|celsius)\b"),
    ),
    _FactKind(
        "headcount",
        re.compile(
            r"\b(?:how many (?:people|persons|humans)|combien de (?:personnes|gens|humains))\b"
        ),
        re.compile(r"\b\d+ (?:people|persons|personnes|humans|humains)\b"),
    ),
    _FactKind(
        "live",
        # Questions about this moment: an article and notes reviewed once cannot hold them.
        re.compile(
            r"\b(?:right now|en ce moment|actuellement|currently|aujourd'hui|today|tonight"
            r"|ce soir|demain|tomorrow|hier|yesterday|this week|cette semaine)\b"
        ),
        re.compile(r"(?!x)x"),  # never held
    ),
)
# One search telling whether any of them is asked: most questions ask none.
_ASKS_ANY_KIND = re.compile("|".join(f"(?:{k.asks.pattern})" for k in _GLOBAL_KINDS))
# Kinds checked per entity: a date, a figure or a duration about the one thing asked about.
_WHEN = re.compile(
    r"\b(?:quand|en quelle annee|quelle annee|quelle date|a quelle date|when|what year|which year"
    r"|what date|since when|depuis quand)\b"
)
_HOW_MANY = re.compile(
    r"\b(?:combien|how many|how much|what percentage|quel pourcentage|quel nombre)\b"
)
_HOW_LONG = re.compile(
    r"\b(?:how long|combien de temps|pendant combien|quelle duree|duration|duree)\b"
)
# One search telling whether any of them is asked.
_ASKS_ANY_ENTITY_FACT = re.compile(
    f"(?:{_HOW_LONG.pattern})|(?:{_WHEN.pattern})|(?:{_HOW_MANY.pattern})"
)
# "Is it still true today?" asks about the article's claim, not about this moment.
_ABOUT_CLAIM = re.compile(
    r"\b(?:still|toujours|encore|vrai|true|accurate|exact|outdated|depasse|d'actualite|fake|faux)\b"
)


@dataclass(frozen=True)
class _Name:
    display: str  # as the corpus writes it: "Thomas Pesquet", "Chang'e 6"
    key: str  # folded, letters and digits only: "thomaspesquet", "change6"


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text)


# The shortest half of a compound word ("moon|rock"), and the English endings that make
# compounds of shorter words ("french|man", "space|ship").
_COMPOUND_PART = 4
# From this length on, one edit from a rare dictionary word is taken for a typo too.
_LONG_WORD = 8
# From this length on, one edit from an inflection of an everyday word is a typo too.
_STEMMED_TYPO = 6
_COMPOUND_TAILS = frozenset(
    "man men woman women ship ships like wise ward wards side land less ness ful".split()
)
# The per-word verdicts remembered per index (`CorpusFocus.is_known`, `is_typo`).
_WORDS_CACHED = 16384
_WORDS_BYTES = 2 * MiB
_TEXTS_CACHED = 4096
_TEXTS_BYTES = 4 * MiB
# A word of this length made of two dictionary words of three letters or more ("pay|load",
# "launch|pad", "web|site") is a compound, not a name: the dictionary lacks many such words.
_SHORT_COMPOUND = 7
_SHORT_PART = 3
# Productive French derivational endings: a lower-case word built with one ("alunisseur",
# "alunissage") is a word the dictionary lacks, not a name (issue 22: only evidence refuses).
_FRENCH_DERIVED = re.compile(
    r"[a-z]{3,}(?:isseur|isseuse|issage|issement|ateur|atrice|ation|ement|ologie|ologue)s?$"
)


def _is_derived_or_compound(token: str, words: Container[str]) -> bool:
    """A word the dictionaries lack but built the way words are: two English dictionary words
    (`words`) run together ("payload", "website"), or a French derivation ("alunisseur")."""
    if _FRENCH_DERIVED.fullmatch(token):
        return True
    if len(token) < _SHORT_COMPOUND:
        return False
    return any(
        token[:i] in words and token[i:] in words
        for i in range(_SHORT_PART, len(token) - _SHORT_PART + 1)
    )


@dataclass(frozen=True)
class CorpusFocus:
    """What one index mentions, for near-miss refusals, thread context and typo correction."""

    vocabulary: frozenset[str]  # folded corpus words
    lexicon: Lexicon  # folded everyday words of both languages, and their stems
    names: dict[str, _Name]  # folded token -> the name it belongs to (specific names only)
    ubiquitous: frozenset[str]  # name tokens too frequent to say what a question is about
    designations: frozenset[tuple[str, str]]  # (letters-only stem, number) the corpus uses
    designation_stems: dict[str, str]  # letters-only stem -> display ("change" -> "Chang'e")
    designation_shown: dict[str, str]  # "tiangong#2" -> "Tiangong-2", as the corpus writes it
    proper: frozenset[str]  # folded words the corpus capitalises (names, even numberless)
    held: frozenset[str]  # corpus-wide fact kinds the corpus holds
    entity_facts: dict[str, frozenset[str]]  # name key -> kinds ("date", "quantity", "duration")
    speller: Speller
    # Per word, for this index: the words of questions recur, and a verdict costs dictionary
    # look-ups (`is_known`) or a few hundred candidate edits (`is_typo`). Keyed on what users
    # type: bounded in bytes too.
    _known: Memo[str, bool] = field(init=False, repr=False, compare=False)
    _typo: Memo[str, bool] = field(init=False, repr=False, compare=False)
    # Text -> `entities`: a thread's earlier questions are read again at each follow-up.
    _named: Memo[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _phrases: tuple[tuple[str, re.Pattern[str]], ...] = field(init=False, repr=False, compare=False)
    # The corpus and everyday words in one set: most words of a question are in it, and one
    # look-up settles them (`is_known` without its call).
    _plain: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_plain", self.vocabulary | self.lexicon.common)
        object.__setattr__(self, "_known", Memo(self._is_known, _WORDS_CACHED, _WORDS_BYTES))
        object.__setattr__(self, "_typo", Memo(self._is_typo, _WORDS_CACHED, _WORDS_BYTES))
        object.__setattr__(self, "_named", Memo(self._entities, _TEXTS_CACHED, _TEXTS_BYTES))
        object.__setattr__(self, "_phrases", _phrase_patterns(self.names))

    # ------------------------------------------------------------------ building

    @classmethod
    def from_index(cls, index: LoadedIndex, lexicon: Lexicon | None = None) -> CorpusFocus:
        """Built from the text of every chunk (article sentences, note sections and claims), with
        the everyday vocabulary of `lexicon` (`bot.answering.lexicon`; computed in memory once
        per process when None)."""
        texts: list[str] = []
        for chunk in index.chunks:
            texts.append(chunk.text)
            if chunk.claim:
                texts.append(chunk.claim)
        texts.extend(d.title for d in index.documents)
        return cls.from_texts(texts, lexicon)

    @classmethod
    def from_texts(cls, texts: Iterable[str], lexicon: Lexicon | None = None) -> CorpusFocus:
        lexicon = computed_lexicon() if lexicon is None else lexicon
        common = lexicon.common
        sentences: list[str] = []
        for text in texts:
            for para in plain_quotes(text).split("\n"):
                sentences.extend(para[s:e] for s, e in split_sentences(para) if e > s)
        vocabulary: Counter[str] = Counter()
        proper: set[str] = set()
        runs: Counter[str] = Counter()
        designations: set[tuple[str, str]] = set()
        stems: dict[str, str] = {}
        shown: dict[str, str] = {}
        folded_sentences = [fold(s) for s in sentences]  # once each: folding is most of the cost
        for sentence, folded in zip(sentences, folded_sentences, strict=True):
            for token in question_tokens(folded):
                vocabulary[token] += 1
                vocabulary.update(p for p in token.split("-") if p)
            for run in _capitalised_runs(sentence):
                runs[run] += 1
                for word in question_tokens(fold(run)):
                    proper.add(word)
                    proper.update(p for p in word.split("-") if p)
            for m in _DESIGNATION.finditer(folded):
                stem, number = m.group(1), m.group(2)
                if (
                    stem in STOPWORDS
                    or stem in MONTHS
                    or _letters(stem) not in _letters_set(proper)
                ):
                    continue
                designations.add((_letters(stem), number))
                stems.setdefault(_letters(stem), _surface(sentence, m.start(1), m.end(1)))
                shown.setdefault(f"{_letters(stem)}#{number}", _surface(sentence, *m.span()))
        names = _names(runs, common)
        # Name tokens found in a large share of the sentences (France, China, the Moon…) do not
        # tell what a question is about.
        share = Counter[str]()
        for folded in folded_sentences:
            share.update({t for t in question_tokens(folded) if t in names})
        cutoff = max(3, len(sentences) // 4)
        ubiquitous = frozenset(t for t, n in share.items() if n > cutoff)
        corpus_text = "\n".join(folded_sentences)
        held = frozenset(k.name for k in _GLOBAL_KINDS if k.holds.search(corpus_text))
        entity_facts: dict[str, set[str]] = {}
        for folded in folded_sentences:
            kinds = _sentence_kinds(folded)
            for key in _entity_keys(folded, names, designations):
                entity_facts.setdefault(key, set()).update(kinds)
        targets = {w: float(n) for w, n in vocabulary.items() if w.isalpha() and len(w) >= 4}
        focus = cls(
            vocabulary=frozenset(vocabulary),
            lexicon=lexicon,
            names=names,
            ubiquitous=ubiquitous,
            designations=frozenset(designations),
            designation_stems=stems,
            designation_shown=shown,
            proper=frozenset(proper),
            held=held,
            entity_facts={k: frozenset(v) for k, v in entity_facts.items()},
            speller=Speller({}, lambda w: True),
        )
        # The speller's "right as it is" is the focus's own notion of a known word.
        object.__setattr__(
            focus, "speller", Speller(targets, focus.is_known, common, known=focus._plain)
        )
        return focus

    # ------------------------------------------------------------------ per question

    def correct(self, text: str) -> str:
        """`text` with one-edit typos of corpus or everyday words fixed ("pesqet" -> "pesquet")."""
        return self.speller.correct(text)

    def is_known(self, token: str) -> bool:
        """A corpus word, an everyday word, an inflection of one, or two everyday words run
        together ("frenchman", "moonrock")."""
        # Corpus and everyday words first (`common` is part of `general`): sets in memory.
        return token in self.vocabulary or token in self.lexicon.common or self._known(token)

    def _is_known(self, token: str) -> bool:
        if token in self.vocabulary or token in self.lexicon.general or not token.isalpha():
            return True
        if any(s in self.lexicon.general_stems for s in word_stems(token)):
            return True
        if any(
            self._compound_head(token[:i])
            and (token[i:] in _COMPOUND_TAILS or self._compound_head(token[i:]))
            for i in range(_COMPOUND_PART, len(token) - 1)
        ):
            return True
        return _is_derived_or_compound(token, self.lexicon.english)

    def _compound_head(self, part: str) -> bool:
        """A word long enough to be half of a compound: short ones ("art", "les") would split
        almost any name into two dictionary words."""
        if len(part) < _COMPOUND_PART:
            return False
        return (
            part in self.lexicon.english or part in self.vocabulary or part in self.lexicon.general
        )

    def is_typo(self, token: str) -> bool:
        """One edit from a corpus or everyday word (see `bot.answering.chattext.typo_candidates`): a word
        typed in a hurry, not a name. The rare-word dictionary only counts for long words, where
        a name is seldom one edit from a dictionary word by chance."""
        return self._typo(token)

    def _is_typo(self, token: str) -> bool:
        edits = edits1(token)  # once, for every check below
        if typo_candidates(token, self.vocabulary, edits) or typo_candidates(
            token, self.lexicon.common, edits
        ):
            return True
        if len(token) >= _LONG_WORD and typo_candidates(token, self.lexicon.english, edits):
            return True
        if len(token) < _STEMMED_TYPO:
            return False
        # An inflected form one edit away ("rameen" -> "ramene", of "ramener"): the edits'
        # stems in one batch per language (as `word_stems`, without filling its cache).
        inflected = [
            e
            for e in edits
            if len(e) >= len(token) and e[0] == token[0] and not differs_only_at_the_end(token, e)
        ]
        return any(
            not self.lexicon.common_stems.isdisjoint(_batch_stemmer(language).stemWords(inflected))
            for language in ("french", "english")
        )

    def unknown_names(self, text: str) -> tuple[str, ...]:
        """Words of `text` that name nothing the corpus or everyday language knows ("artemis")."""
        return self._unknown_names(fold(plain_quotes(text)))

    def _unknown_names(self, folded: str) -> tuple[str, ...]:
        plain = self._plain
        # A known word of one piece needs no further look (most words): set look-ups only.
        pending = [t for t in question_tokens(folded) if t not in plain or "-" in t]
        if not pending:
            return ()
        out: list[str] = []
        for token in pending:
            parts = [p for p in token.split("-") if p] if "-" in token else [token]
            for part in parts:
                if len(part) < 3 or part in out or self.is_known(part) or self.is_typo(part):
                    continue
                out.append(part)
        return tuple(out)

    def unknown_designations(self, text: str) -> tuple[str, ...]:
        """Numbered names the corpus never uses with that number ("Chang'e 8", "Apollo 11")."""
        return self._unknown_designations(fold(plain_quotes(text)))

    def _unknown_designations(self, folded: str) -> tuple[str, ...]:
        out: list[str] = []
        if not _DIGIT.search(folded):  # a designation ends in a number
            return ()
        for m in _DESIGNATION.finditer(folded):
            stem, number = ELISION.sub("", m.group(1)), m.group(2)
            key = _letters(stem)
            if stem in STOPWORDS or stem in MONTHS or (key, number) in self.designations:
                continue
            if key in self.designation_stems or key in _letters_set(self.proper):
                display = self.designation_stems.get(key, stem.capitalize())
                out.append(f"{display} {number.upper()}")
        return tuple(out)

    def entities(self, text: str) -> tuple[str, ...]:
        """The specific things `text` names, as the corpus writes them ("Chang'e 6", "SVOM"), then
        designations and names the corpus does not know (they still say what `text` is about)."""
        return self._named(text)

    def _entities(self, text: str) -> tuple[str, ...]:
        folded = fold(plain_quotes(text))
        out: list[str] = []
        for key in _entity_keys(folded, self.names, self.designations, self._phrases):
            display = self._display(key)
            if display not in out:
                out.append(display)
        for extra in (*self._unknown_designations(folded), *self._unknown_names(folded)):
            if extra not in out:
                out.append(extra)
        return tuple(out)

    def check(self, question: str) -> NearMiss | None:
        """The near miss `question` centres on, or None when the corpus may hold the answer."""
        folded = fold(plain_quotes(question))
        designation = self._unknown_designations(folded)
        if designation:
            return NearMiss("designation", designation[0])
        unknown = self._unknown_names(folded)
        if unknown:
            return NearMiss("name", " ".join(unknown))
        keys = [
            k
            for k in _entity_keys(folded, self.names, self.designations, self._phrases)
            if k not in self.ubiquitous
        ]
        subject = self._display(keys[0]) if keys else ""
        for kind in _GLOBAL_KINDS if _ASKS_ANY_KIND.search(folded) else ():
            if kind.name in self.held or not kind.asks.search(folded):
                continue
            if kind.name == "live" and _ABOUT_CLAIM.search(folded):
                continue
            return NearMiss("fact", subject, kind.name)
        # Per-entity facts only for what names one thing: a designation or a name word (a phrase of
        # everyday words, "United States", says too little about which sentences are about it).
        keys = [k for k in keys if " " not in k]
        if keys and _ASKS_ANY_ENTITY_FACT.search(folded):
            for fact, asks in (("duration", _HOW_LONG), ("date", _WHEN), ("quantity", _HOW_MANY)):
                asked = asks.search(folded) is not None
                if asked and not any(fact in self.entity_facts.get(k, frozenset()) for k in keys):
                    return NearMiss("fact", subject, fact)
                if fact == "duration" and asked:
                    break  # "how long" also reads as "how many": the duration answer decides
        return None

    def _display(self, key: str) -> str:
        name = self.names.get(key)
        if name is not None:
            return name.display
        if key in self.designation_shown:
            return self.designation_shown[key]
        stem, _, number = key.partition("#")
        return f"{self.designation_stems.get(stem, stem)} {number.upper()}".strip()


# ---------------------------------------------------------------------------- helpers


@lru_cache(maxsize=64)
def _letters_set_cached(words: frozenset[str]) -> frozenset[str]:
    return frozenset(_letters(w) for w in words)


def _letters_set(words: Iterable[str]) -> frozenset[str]:
    return _letters_set_cached(frozenset(words))


class _BatchStemmer(Protocol):
    """A PyStemmer `Stemmer.Stemmer` used for whole lists (the package ships no type hints)."""

    def stemWords(self, words: list[str], /) -> list[str]: ...


@cache
def _batch_stemmer(language: str) -> _BatchStemmer:
    """A Snowball stemmer for lists of one-off words, its cache off: they would only thrash it."""
    import Stemmer  # as `index.text.stemmer`: on first use

    made: _BatchStemmer = Stemmer.Stemmer(language, 0)
    return made


def _surface(sentence: str, start: int, end: int) -> str:
    """The corpus spelling of a folded span (folding keeps offsets for these scripts)."""
    raw = sentence[start:end]
    return raw if len(raw) == end - start else fold(raw)


_CAP_WORD = re.compile(
    r"(?:[A-ZÀ-ÖØ-Þ][\w'’]*(?:-[\w'’]+)*|[A-Za-z]*[A-Z]{2,}[\w-]*)(?:\s+\d{1,3}[A-Z]?\b)?"
)


def _capitalised_runs(sentence: str) -> list[str]:
    """Runs of capitalised words that are not just the first word of the sentence."""
    runs: list[str] = []
    current: list[str] = []
    last_end = -1
    for m in _CAP_WORD.finditer(sentence):
        gap = sentence[last_end : m.start()] if last_end >= 0 else None
        joinable = (gap is not None and gap.strip() in ("", "-") and " " in gap) or gap == "-"
        if current and not joinable:
            runs.append(" ".join(current))
            current = []
        if (
            m.start() == 0
            and not current
            and m.group(0)[1:].islower()
            and len(TOKEN.findall(fold(m.group(0)))) == 1
        ):
            last_end = m.end()
            continue  # the sentence's first word: capitalised for grammar, not as a name
        current.append(m.group(0))
        last_end = m.end()
    if current:
        runs.append(" ".join(current))
    return runs


def _names(runs: Counter[str], general: frozenset[str]) -> dict[str, _Name]:
    """Folded name token -> the most frequent capitalised run holding it (its display form)."""
    best: dict[str, tuple[int, str]] = {}
    for run, count in runs.items():
        for token in question_tokens(fold(run)):
            for part in {token, *(p for p in token.split("-") if p)}:
                if part in STOPWORDS or part.isdigit() or len(part) < 2:
                    continue
                if part in general:
                    continue  # "Space" in "China National Space Administration" names nothing
                prev = best.get(part)
                # The shortest run naming the token among the most frequent ones.
                rank = (count, -len(run))
                if prev is None or rank > (prev[0], -len(prev[1])):
                    best[part] = (count, run)
    out: dict[str, _Name] = {}
    for token, (_, run) in best.items():
        out[token] = _Name(run, _letters(fold(run)))
    # Names made of everyday words ("United States", "South Pole") are matched as phrases.
    folded_runs = [(fold(r), n) for r, n in runs.items()]
    for run in sorted(runs, key=lambda r: -runs[r]):
        words = question_tokens(fold(run))
        while words and words[0] in STOPWORDS:
            words = words[1:]
        phrase = " ".join(words)
        # Twice at least: a run seen once is as likely a headline's chance capitals.
        if runs[run] < 2 and sum(n for r, n in folded_runs if r.endswith(phrase)) < 2:
            continue
        if len(words) >= 2 and all(w in general for w in words) and phrase not in out:
            start = fold(run).find(words[0])
            out[phrase] = _Name(run[start:] if start >= 0 else run, _letters(phrase))
    return out


def _phrase_patterns(names: dict[str, _Name]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The names of several words, in `names`' order, each with its pattern."""
    return tuple((p, re.compile(rf"\b{re.escape(p)}\b")) for p in names if " " in p)


def _entity_keys(
    folded: str,
    names: dict[str, _Name],
    designations: AbstractSet[tuple[str, str]],
    phrases: tuple[tuple[str, re.Pattern[str]], ...] | None = None,
) -> list[str]:
    """Keys of the corpus names and designations in a folded text, in order of appearance
    (`phrases`: `_phrase_patterns(names)`, when the caller keeps it)."""
    keys: list[str] = []
    spans: list[tuple[int, int]] = []
    for phrase, pattern in _phrase_patterns(names) if phrases is None else phrases:
        m = pattern.search(folded) if phrase in folded else None
        if m is not None:
            keys.append(phrase)
            spans.append(m.span())
    if _DIGIT.search(folded):  # a designation ends in a number
        for m in _DESIGNATION.finditer(folded):
            stem = _letters(ELISION.sub("", m.group(1)))
            if (stem, m.group(2)) in designations:
                key = f"{stem}#{m.group(2)}"
                if key not in keys:
                    keys.append(key)
                spans.append(m.span())
    tokens: Iterable[str] = (
        (
            m.group(0)
            for m in TOKEN.finditer(folded)
            if not any(s <= m.start() < e for s, e in spans)  # in a phrase or a designation
        )
        if spans
        else TOKEN.findall(folded)
    )
    # Only a name, an elision or a hyphenated word can give a key: the other words need no look.
    for token in [t for t in tokens if t in names or "'" in t or "-" in t]:
        if "'" in token:
            token = ELISION.sub("", token)
        if token in names and token not in keys:  # the whole token, else its hyphenated parts
            keys.append(token)
            continue
        if "-" in token:
            for part in token.split("-"):
                if part and part in names and part not in keys:
                    keys.append(part)
                    break
    return keys


def _sentence_kinds(folded: str) -> set[str]:
    kinds = set()
    if _YEAR_OR_DATE.search(folded):
        kinds.add("date")
    if _QUANTITY.search(folded):
        kinds.add("quantity")
    if _DURATION.search(folded):
        kinds.add("duration")
    return kinds
