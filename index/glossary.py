"""Word-by-word French → English glossing of questions (dictionary-based query translation).

The bundled embedding model is English-only: a French question and the French sentence that
answers it often share neither vectors nor words. A crude English gloss of the question
("Combien de kilos … envoyer ?" → "how many of kilograms … send ?") lets the English model read
it and lets BM25 meet the aligned English translation. The glossary is a general hand-written word
list (`index/data/fr_en_glossary.tsv`), not derived from the corpus or the evaluation questions.
Unknown words (names, numbers, words spelled alike in both languages) pass through unchanged.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from index.lru import Memo, MiB, memo
from index.text import fold, plain_quotes, stemmer

GLOSSARY_PATH = Path(__file__).with_name("data") / "fr_en_glossary.tsv"

# Elided articles and pronouns ("l'espace", "qu'il", "jusqu'à"); "Chang'e" is not one.
_ELISION = re.compile(r"^(?:l|d|j|m|n|s|t|c|qu|lorsqu|puisqu|jusqu|quoiqu)'(?=\w)", re.IGNORECASE)
_TOKEN = re.compile(r"[\w]+(?:['-][\w]+)*|[^\w\s]", re.UNICODE)
_MAX_PHRASE = 5  # longest multi-word entry looked up ("est-ce que", "de plus en plus")


class Glossary:
    """French word forms (exact, accent-folded, then stemmed) mapped to one English gloss."""

    def __init__(self, entries: dict[str, str]) -> None:
        self.exact: dict[str, str] = {}
        self.folded: dict[str, str] = {}
        self.stemmed: dict[str, str] = {}
        self.size = len(entries)
        single: list[tuple[str, str, str]] = []  # (key, folded key, gloss) of one-word entries
        for french, english in entries.items():
            key = plain_quotes(french.lower())
            # Entries are cut like questions are ("qu'est-ce que" -> "qu' est ce que").
            phrase = " ".join(_words(key))
            folded_key = fold(key)
            self.exact.setdefault(key, english)
            self.folded.setdefault(folded_key, english)
            self.exact.setdefault(phrase, english)
            self.folded.setdefault(folded_key if phrase == key else fold(phrase), english)
            if " " not in phrase:
                single.append((key, folded_key, english))
        # Stem before folding: the French stemmer needs the accents ("fermées"). All at once,
        # with PyStemmer's cache off: a third of the start-up cost of one word at a time.
        stems = _stem_all([w for key, folded_key, _ in single for w in (key, folded_key)])
        for i, (_, _, english) in enumerate(single):
            self.stemmed.setdefault(stems[2 * i], english)
            self.stemmed.setdefault(stems[2 * i + 1], english)
        self.longest = max((k.count(" ") + 1 for k in self.exact), default=1)
        # The first word of every entry of several words: a word that starts none needs no
        # phrase look-up (most words of a question).
        self.phrase_starts = frozenset(k.partition(" ")[0] for k in self.folded if " " in k)
        # Word as typed -> (its gloss or None,): the words of questions recur. Keyed on what
        # users type: bounded in bytes too.
        self._glosses: Memo[str, tuple[str | None]] = Memo(
            self._lookup, capacity=65536, max_bytes=4 * MiB
        )

    @classmethod
    def load(cls, path: Path = GLOSSARY_PATH) -> Glossary:
        """Read a `french<TAB>english` file (lines starting with # are comments)."""
        entries: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            french, _, english = line.partition("\t")
            if french.strip() and english.strip():
                entries.setdefault(french.strip(), english.strip())
        return cls(entries)

    def __len__(self) -> int:
        """The number of entries (French forms) read."""
        return self.size

    def lookup(self, word: str) -> str | None:
        """The English gloss of one French word form, or None when the glossary lacks it."""
        return self._glosses(word)[0]

    def _lookup(self, word: str) -> tuple[str | None]:
        key = plain_quotes(word.lower())
        hit = self.exact.get(key) or self.folded.get(fold(key))
        if hit is None and not key.isdigit() and len(key) > 3:
            hit = self.stemmed.get(_stem(key)) or self.stemmed.get(_stem(fold(key)))
        return (hit,)

    def gloss(self, text: str) -> str:
        """`text` with every known French word (or short phrase) replaced by its English gloss."""
        words = _words(text)
        # Once per word, not once per candidate phrase; in one call for all of them (folding
        # goes character by character and keeps the spaces between words), word by word when a
        # word's folding holds a space (compatibility forms).
        folded = fold(" ".join(words)).split(" ")
        if len(folded) != len(words):
            folded = [fold(w) for w in words]
        out: list[str] = []
        i = 0
        while i < len(words):
            # A phrase of several words, in `folded` when found, holds a space and starts with
            # the start of its first word: without that start, only the word itself can match.
            starts = folded[i].partition(" ")[0] in self.phrase_starts
            longest = min(_MAX_PHRASE, self.longest, len(words) - i) if starts else 1
            for n in range(longest, 0, -1):
                if n > 1:
                    hit = self.folded.get(" ".join(folded[i : i + n]))
                else:
                    # `lookup`'s first two look-ups, without its cache (`words` are plain, so
                    # `folded[i]` is what it folds): most words are found there.
                    hit = self.exact.get(words[i].lower()) or self.folded.get(folded[i])
                    if hit is None:
                        hit = self.lookup(words[i])
                if hit is not None:
                    out.append(hit)
                    i += n
                    break
            else:
                out.append(words[i])
                i += 1
        return " ".join(out)


def _words(text: str) -> list[str]:
    """Tokens with elisions split off and hyphenated inversions cut ("a-t-elle" → a, elle)."""
    out: list[str] = []
    for token in _TOKEN.findall(plain_quotes(text)):
        elided = _ELISION.match(token) if "'" in token else None
        if elided:
            out.append(elided.group(0))
            token = token[elided.end() :]
        if "-" in token and not token.istitle():
            parts = [p for p in token.split("-") if p and p.lower() != "t"]
            out.extend(parts)
        else:
            out.append(token)
    return [w for w in out if w not in {"?", "!", ".", ",", ";", ":", "«", "»", '"'}]


# Keyed on the words of questions: bounded in bytes, not only in entries.
@memo(capacity=65536, max_bytes=8 * MiB)
def _stem(word: str) -> str:
    return stemmer("french").stemWord(word)


class _BatchStemmer(Protocol):
    """A PyStemmer `Stemmer.Stemmer` used for whole lists (the package ships no type hints)."""

    def stemWords(self, words: list[str], /) -> list[str]: ...


def _stem_all(words: list[str]) -> list[str]:
    """The French stem of each of `words` (as `_stem`), in one call, PyStemmer's cache off."""
    import Stemmer

    batch: _BatchStemmer = Stemmer.Stemmer("french", 0)
    return batch.stemWords(words)


@lru_cache(maxsize=1)
def default_glossary() -> Glossary:
    """The bundled glossary, read once per process."""
    return Glossary.load()
