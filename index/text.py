"""Text helpers shared by the corpus loader, the chunker and retrieval.

Sentence splitting, matching normalisation (typographic apostrophes, spaces), accent folding and
the content-word tokenizer used by BM25 and by the relevance gate.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Protocol

from index.lru import MiB, memo

# A sentence ends at . ! ? or … (optionally followed by closing quotes or brackets), then
# whitespace, then something that can start a sentence.
_SENTENCE_END = re.compile(r"""[.!?…]+["»”’)\]]*(?=\s+["«“(\[]?\s*[A-ZÀ-ÖØ-Þ0-9])""")
_INITIAL = re.compile(r"(?:^|[\s(])[A-Za-z]\.$")

_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "“": '"', "”": '"'})
_TYPOGRAPHIC_PAIRS = tuple((chr(c), str(p)) for c, p in _TYPOGRAPHIC.items())
_SPACES = re.compile(r"\s+")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans (start, end) of the sentences of `text`, trimmed of surrounding spaces."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        # "U.S. Army", "J. Smith": a single letter before the period is an initial, not an end.
        if _INITIAL.search(text[max(0, match.start() - 2) : match.start() + 1]):
            continue
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def plain_quotes(text: str) -> str:
    """Typographic apostrophes and quotes made plain ("Chang’e" -> "Chang'e"), one character
    for one, so offsets into `text` stay valid."""
    # As `text.translate(_TYPOGRAPHIC)`, without its per-character look-ups (15x faster on a
    # question; this runs several times per question): no replacement is another's source.
    for typographic, plain in _TYPOGRAPHIC_PAIRS:
        if typographic in text:
            text = text.replace(typographic, plain)
    return text


def normalize_for_match(text: str) -> str:
    """`plain_quotes`, with runs of spaces collapsed: for claim matching."""
    return _SPACES.sub(" ", plain_quotes(text)).strip()


def find_normalized(haystack: str, needle: str) -> tuple[int, int] | None:
    """Offsets in `haystack` of `needle`, comparing both with `normalize_for_match`.

    Returns the span in the *original* haystack, so quotes stay exact substrings.
    """
    target = normalize_for_match(needle)
    if not target:
        return None
    # Build the normalized haystack while remembering where each normalized char came from.
    chars: list[str] = []
    origin: list[int] = []
    prev_space = True
    for i, ch in enumerate(plain_quotes(haystack)):
        if ch.isspace():
            if prev_space:
                continue
            ch = " "
            prev_space = True
        else:
            prev_space = False
        chars.append(ch)
        origin.append(i)
    norm = "".join(chars)
    pos = norm.find(target)
    if pos < 0:
        return None
    return origin[pos], origin[pos + len(target) - 1] + 1


def fold(text: str) -> str:
    """Lower-case and strip accents: 'Pékin' -> 'pekin'."""
    lowered = text.lower()
    if lowered.isascii():  # most words and English questions: nothing to decompose
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    # The accents of Latin letters first, in one pass in C: usually nothing else is left.
    decomposed = _LATIN_MARKS.sub("", decomposed)
    if decomposed.isascii():
        return decomposed
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# The combining marks of the Combining Diacritical Marks block (U+0300–U+036F), as the running
# Python's Unicode data says (U+034F, the grapheme joiner, is none).
_LATIN_MARKS = re.compile(
    "[" + "".join(chr(c) for c in range(0x300, 0x370) if unicodedata.combining(chr(c))) + "]"
)


STOPWORDS_FR = frozenset(
    fold(w)
    for w in """
    a à au aux avec ce ces cet cette dans de des du elle elles en et est été être eu il ils je
    la le les leur leurs lui ma mais me même mes moi mon ne nos notre nous on ont ou où par pas
    pour qu que qui quoi sa se ses son sont sur ta te tes toi ton tu un une vos votre vous y c d
    j l m n s t qu lorsque puisque quel quelle quels quelles comment combien pourquoi quand est-ce
    était étaient sera seront fait faire fut avait avaient ai as avons avez ceci cela ça donc
    alors aussi très plus moins tout tous toute toutes autre autres dont si non oui bien ici là
    quoi chez entre vers depuis avant après pendant sans sous selon ainsi comme encore déjà
    elle-même lui-même soit peut peuvent doit doivent va vont vraiment réellement article dit
    dire selon l'article veut veulent voulait voulaient pourrait pourraient pouvait pouvaient
    devait devaient devrait devraient faisait faisaient aller allait allaient ira iront serait
    seraient aurait auraient aura auront lors
    """.split()
)

STOPWORDS_EN = frozenset(
    """
    a an the and or but if of to in on at by for with from as into about over after before is
    are was were be been being am do does did done has have had having will would shall should
    can could may might must it its this that these those there here what which who whom whose
    when where why how i me my we our you your he him his she her they them their not no yes so
    than then too very just also only own same such both each few more most other some any all
    again further once up down out off under until while during really actually does did article
    say says said tell
    """.split()
)

STOPWORDS = STOPWORDS_FR | STOPWORDS_EN
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|%")


# Bump when content_words() changes: the BM25 index stores its output, so a change makes it stale.
TOKENIZER_VERSION = 4

# Spelled-out units meet their symbols ("15 kilos" finds "15 kg"), in both languages.
_UNITS = {
    "kilo": "kg",
    "kilos": "kg",
    "kilogramme": "kg",
    "kilogrammes": "kg",
    "kilogram": "kg",
    "kilograms": "kg",
    "gramme": "g",
    "grammes": "g",
    "gram": "g",
    "grams": "g",
    "pourcent": "%",
    "percent": "%",
    "heure": "h",
    "heures": "h",
    "hour": "h",
    "hours": "h",
}


class WordStemmer(Protocol):
    """A PyStemmer `Stemmer.Stemmer` (the package ships no type hints)."""

    def stemWord(self, word: str, /) -> str: ...


@cache
def stemmer(language: str) -> WordStemmer:
    """The Snowball stemmer for `language` ("french", "english"), made once, on first use."""
    import Stemmer

    made: WordStemmer = Stemmer.Stemmer(language)
    return made


def _stem_pair(word: str) -> tuple[str, ...]:
    """The word's French and English Snowball stems (one when they agree).

    The corpus and the questions mix two languages, and a question's language says nothing about
    the chunk it should meet, so every word is conflated by both stemmers on both sides.
    """
    if word.isdigit():
        return (word,)
    fr = stemmer("french").stemWord(word)
    en = stemmer("english").stemWord(word)
    return (fr,) if fr == en else (fr, en)


# Keyed on questions as well as corpus texts: bounded in bytes, not only in entries.
@memo(capacity=8192, max_bytes=16 * MiB)
def content_words(text: str) -> tuple[str, ...]:
    """Accent-folded, stemmed content words of `text` (stop words of both languages removed).

    Elisions ("l'exploration") and hyphenated inversions ("veut-elle") are split first.
    """
    out: list[str] = []
    known = _RAW_WORDS.get
    for raw in _WORD.findall(fold(plain_quotes(text))):
        words = known(raw)
        if words is None:
            words = _raw_words(raw)
            if len(raw) <= _RAW_WORD_MAX_LENGTH:
                if len(_RAW_WORDS) >= _RAW_WORDS_CAPACITY:
                    _RAW_WORDS.clear()  # rare: the words of the corpus come back as they are met
                _RAW_WORDS[raw] = words
        out += words
    return tuple(out)


# What each word of a text gives (`_raw_words`), remembered word by word: a text not seen before
# is mostly made of words that were (a question's words cost one look-up each, not a split, a
# stop-word test and two stemmers). Bounded, as users type the words: cleared when full, and
# long words are not kept. A plain dict: a get or a set is atomic, and a lost entry is recomputed.
_RAW_WORDS: dict[str, tuple[str, ...]] = {}
_RAW_WORDS_CAPACITY = 1 << 15
_RAW_WORD_MAX_LENGTH = 40


def _raw_words(raw: str) -> tuple[str, ...]:
    """The content words of one `_WORD` match of folded text, as `content_words` gives them."""
    out: list[str] = []
    for word in re.split(r"['-]", raw) if "'" in raw or "-" in raw else (raw,):
        if len(word) < 2 and not word.isdigit() and word != "%":
            continue
        if word in STOPWORDS:
            continue
        if word in _UNITS:
            out.append(_UNITS[word])
            continue
        out.extend(_stem_pair(word))
    return tuple(out)


# Characters no form field or corpus file may hold: C0 and C1 controls, the bidi embeddings,
# overrides and isolates (U+202A–202E, U+2066–2069), the zero-width and direction marks
# (U+200B–200F), the line and paragraph separators and the byte-order mark. Bidi and zero-width
# characters make text read as something else (U+202E turns a link title around); newline (and
# tab, in a file) is the only control character a text may keep.
_UNSAFE_CHARACTERS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
# Those that separate words: they become a space (a line break in a multi-line field), not nothing.
_SEPARATORS = frozenset("\t\n\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029")


def clean_field(text: str, multiline: bool) -> str:
    """`text` as a form field keeps it: line breaks made `\\n` (kept only when `multiline`),
    control, bidi and zero-width characters removed, separators turned into spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")

    def replace(match: re.Match[str]) -> str:
        char = match.group()
        if char in "\n\u2028\u2029":
            return "\n" if multiline else " "
        return " " if char in _SEPARATORS else ""

    return _UNSAFE_CHARACTERS.sub(replace, text)


def unsafe_character(text: str, allowed: str = "\n\t") -> tuple[int, str] | None:
    """(line number, character) of the first character of `text` that `clean_field` would
    remove or change (`allowed` excepted), or None."""
    for number, line in enumerate(text.split("\n"), start=1):
        for match in _UNSAFE_CHARACTERS.finditer(line):
            if match.group() not in allowed:
                return number, match.group()
    return None
