"""The everyday vocabulary of both languages the near-miss check knows (bot/answering/focus.py).

A word of a question is a *name* the corpus lacks only when no everyday vocabulary holds it: the
common words (glossary, stop words, chat words, months, the lower-case words of the background
chat questions), the lower-case entries of Webster's 2nd (210k words, package `english-words`),
and the French and English Snowball stems of both. These sets derive from fixed data only, so they
are computed once — by `factbot index`, or on first use — and stored under
`INDEX_DIR/derived/lexicon-<key>/`, one memory-mapped `index.wordset` file per set, with a
manifest of their SHA-256. The key is a SHA-256 of everything the sets derive from (the versions
of `english-words` and PyStemmer, the glossary and background files, the word lists below,
`FORMAT`); it costs a millisecond, reads no dictionary and stems nothing. A missing, corrupted or
foreign folder is recomputed with one log line; writing a new key deletes the older ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Protocol

from bot.answering.chattext import ABBREVIATIONS
from bot.settings import Settings
from index.checksums import sha256_file
from index.glossary import GLOSSARY_PATH
from index.locks import exclusive_lock
from index.store import BACKGROUND_FILE
from index.text import STOPWORDS, fold, plain_quotes, stemmer
from index.wordset import WordSet

log = logging.getLogger("factbot.index")

# Bump when the way the sets are derived from their inputs changes (the code below, the
# tokenizer of `question_tokens`, `fold`): the key then changes and the sets are recomputed.
FORMAT = 1
# Under INDEX_DIR; the index store's garbage collection only touches builds/ and tmp-*.
DERIVED = "derived"
_PREFIX = "lexicon-"
_TMP_PREFIX = ".tmp-lexicon-"
_MANIFEST = "manifest.json"
_SETS = ("common", "common_stems", "english", "general", "general_stems")

# Words of a text (accent-folded): letters, digits, inner apostrophes and hyphens.
TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_RAW_TOKEN = re.compile(r"[^\W_][\w'’-]*", re.UNICODE)
# An elided article or pronoun in front of a word ("l'iss", "d'echantillons"); "chang'e" keeps it.
ELISION = re.compile(r"^(?:l|d|j|m|n|s|t|c|qu|lorsqu|puisqu|jusqu)'")

# Month names are not designations ("March 2" is a date, "Long March 2C" a rocket).
MONTHS = frozenset(
    "jan janvier feb fevrier february mar mars march apr avr avril april mai may jun juin june "
    "jul juil juillet july aug aou aout august sep sept septembre september oct octobre october "
    "nov novembre november dec decembre december".split()
)
# Everyday chat words the glossary and the stop-word lists do not hold (general internet usage,
# so that "is that a typo??" is not taken for a question about something named "typo").
CHAT_WORDS = frozenset(
    """
    ok okay yeah yep nope yes hey hi hello thanks thank lol typo fake stuff thing things thingy
    guys guy anyway anyways actually basically literally exactly supposedly apparently tho though
    per smth gonna wanna kinda sorta dunno idk bot bots chat channel thread server discord slack
    emoji link wiki google internet online article articles says said mention mentions mentioned
    claim claims claimed story news report reports headline deal agencies agency whatever else
    """.split()
)


def question_tokens(folded: str) -> list[str]:
    """Folded words of a question, elisions cut off ("l'iss" -> "iss")."""
    if "'" not in folded:  # most questions: no elision, no possessive, every token as found
        return TOKEN.findall(folded)
    out = []
    for token in TOKEN.findall(folded):
        if "'" in token:
            token = ELISION.sub("", token)
            if token.endswith("'s"):  # English possessive: "nasa's" is "nasa"
                token = token[:-2]
        if token:
            out.append(token)
    return out


# ---------------------------------------------------------------------------- the words


def common_vocabulary() -> frozenset[str]:
    """Everyday words of both languages (folded): the glossary's French forms and English glosses,
    stop words, chat words, and the lower-case words of the background chat questions (names are
    capitalised there, so "Artemis" or "SpaceX" do not become everyday words)."""
    words: set[str] = set(STOPWORDS) | set(CHAT_WORDS) | set(MONTHS)
    for key, value in ABBREVIATIONS.items():
        words.add(fold(key))
        words.update(TOKEN.findall(fold(value)))
    for line in GLOSSARY_PATH.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        french, _, english = line.partition("\t")
        for part in (french, english):
            for token in question_tokens(fold(plain_quotes(part))):
                words.update(token.split("-"))
                words.add(token)
    for line in BACKGROUND_FILE.read_text(encoding="utf-8").splitlines():
        for i, raw in enumerate(_RAW_TOKEN.findall(plain_quotes(line))):
            if raw[:1].islower() or (i == 0 and raw[1:].islower()):
                for token in question_tokens(fold(raw)):
                    words.update(token.split("-"))
    return frozenset(w for w in words if w)


def english_dictionary() -> frozenset[str]:
    """The lower-case entries of Webster's 2nd (the `english-words` package): everyday English
    words in their base forms. Its capitalised entries (names: "Artemis", "Jupiter") are left out,
    since a name the corpus never mentions is what the focus check looks for."""
    from english_words import get_english_words_set  # 20 ms to import: only when computing

    return frozenset(
        w for w in get_english_words_set(["web2"], lower=False, alpha=True) if w.islower()
    )


class _BatchStemmer(Protocol):
    """A PyStemmer `Stemmer.Stemmer` used for whole lists (the package ships no type hints)."""

    def stemWords(self, words: list[str], /) -> list[str]: ...


def word_stems(word: str) -> tuple[str, str]:
    """The French and English Snowball stems of `word` (the shared stemmers, whose cache pays
    off on the words of questions)."""
    return stemmer("french").stemWord(word), stemmer("english").stemWord(word)


def stem_set(words: Iterable[str]) -> frozenset[str]:
    """Both stems of every alphabetic word of `words`: one batch call per language, with
    PyStemmer's cache off (its 10k entries only thrash over 200k distinct words: 4x slower)."""
    import Stemmer  # only when computing the lexicon

    alpha = [w for w in words if w.isalpha()]
    out: set[str] = set()
    for language in ("french", "english"):
        batch: _BatchStemmer = Stemmer.Stemmer(language, 0)
        out.update(batch.stemWords(alpha))
    return frozenset(out)


# ---------------------------------------------------------------------------- the artifact


class LexiconUnusable(Exception):
    """A stored lexicon that cannot be used (missing, corrupted, another key): one line."""


@dataclass(frozen=True)
class Lexicon:
    """The everyday vocabulary: small sets in memory, large ones memory-mapped."""

    common: frozenset[str]  # everyday words without the rare-word dictionary
    common_stems: frozenset[str]
    english: WordSet  # the lower-case English dictionary (rare words included)
    general: WordSet  # common | english
    general_stems: WordSet

    @classmethod
    def compute(cls) -> Lexicon:
        """Every set, from the inputs (~0.5 s: reading and stemming the dictionary)."""
        common = common_vocabulary()
        english = english_dictionary()
        general = common | english
        return cls(
            common=common,
            common_stems=stem_set(common),
            english=WordSet.of(english),
            general=WordSet.of(general),
            general_stems=WordSet.of(stem_set(general)),
        )

    def save(self, folder: Path, key: str) -> Path:
        """Write the sets to `folder/lexicon-<key>/` atomically (a temporary folder renamed into
        place) and delete the other keys' folders. The caller holds the lexicon lock."""
        final = folder / lexicon_name(key)
        tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=folder))
        try:
            for name in _SETS:
                words = getattr(self, name)
                wordset = words if isinstance(words, WordSet) else WordSet.of(words)
                wordset.save(tmp / f"{name}.npy")
            files = {f"{name}.npy": sha256_file(tmp / f"{name}.npy") for name in _SETS}
            manifest = {"format": FORMAT, "key": key, "files": files}
            (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
            shutil.rmtree(final, ignore_errors=True)  # a corrupted one (we hold the lock)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for old in folder.iterdir():
            if old != final and old.name.startswith((_PREFIX, _TMP_PREFIX)):
                shutil.rmtree(old, ignore_errors=True)
        return final

    @classmethod
    def read(cls, folder: Path, key: str) -> Lexicon:
        """The lexicon stored for `key` under `folder`, its files checked against their SHA-256
        (`LexiconUnusable` when missing, corrupted or written for another key)."""
        path = folder / lexicon_name(key)
        try:
            manifest = json.loads((path / _MANIFEST).read_text(encoding="utf-8"))
            if not isinstance(manifest, dict) or manifest.get("key") != key:
                raise LexiconUnusable(f"{path.name} was written for another key")
            files = manifest["files"]
            if sorted(files) != sorted(f"{name}.npy" for name in _SETS):
                raise LexiconUnusable(f"{path.name} lists other files")
            for name, digest in files.items():
                if sha256_file(path / name) != digest:
                    raise LexiconUnusable(f"{path.name}/{name}: checksum mismatch")
            sets = {name: WordSet.load(path / f"{name}.npy") for name in _SETS}
        except FileNotFoundError as exc:
            raise LexiconUnusable(f"{path.name}: missing {Path(exc.filename or '').name}") from exc
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            raise LexiconUnusable(f"{path.name}: {reason}") from exc
        return cls(
            common=frozenset(sets["common"]),
            common_stems=frozenset(sets["common_stems"]),
            english=sets["english"],
            general=sets["general"],
            general_stems=sets["general_stems"],
        )


def lexicon_name(key: str) -> str:
    """The folder name of the lexicon for `key`."""
    return f"{_PREFIX}{key[:16]}"


@lru_cache(maxsize=1)
def lexicon_key() -> str:
    """SHA-256 of everything the lexicon derives from (read once per process; ~1 ms)."""
    digest = hashlib.sha256()

    def add(label: str, data: bytes | str | Iterable[str]) -> None:
        if isinstance(data, str):
            data = data.encode()
        elif not isinstance(data, bytes):
            data = "\n".join(sorted(data)).encode()
        digest.update(f"{label}:{len(data)}:".encode() + data)

    add("format", str(FORMAT))
    for package in ("english-words", "PyStemmer"):
        try:
            add(package, metadata.version(package))
        except metadata.PackageNotFoundError:
            add(package, "absent")
    add("glossary", GLOSSARY_PATH.read_bytes())
    add("background", BACKGROUND_FILE.read_bytes())
    add("stopwords", STOPWORDS)
    add("chat_words", CHAT_WORDS)
    add("months", MONTHS)
    add("abbreviations", (f"{k}\t{v}" for k, v in ABBREVIATIONS.items()))
    return digest.hexdigest()


# The sets computed in this process, by key: a second INDEX_DIR gets them written, not recomputed.
_computed: dict[str, Lexicon] = {}


def load_lexicon(folder: Path) -> Lexicon:
    """The lexicon stored under `folder` (INDEX_DIR/derived), computed and stored first when it
    is missing, corrupted or stale. Never raises for a bad or unwritable folder: it then logs one
    line and uses the sets from memory."""
    key = lexicon_key()
    with contextlib.suppress(LexiconUnusable):
        return Lexicon.read(folder, key)
    try:
        with exclusive_lock(folder / ".lexicon.lock"):
            try:
                return Lexicon.read(folder, key)  # another process wrote it while we waited
            except LexiconUnusable as exc:
                problem = exc
            if (folder / lexicon_name(key)).exists():
                log.warning("near-miss lexicon unusable (%s): recomputing it", problem)
            else:
                log.info("computing the near-miss lexicon into %s (once)", folder)
            lexicon = _computed.get(key) or Lexicon.compute()
            _computed[key] = lexicon
            lexicon.save(folder, key)
    except OSError as exc:
        log.warning("near-miss lexicon not stored in %s (%s): computed in memory", folder, exc)
        lexicon = _computed.get(key) or Lexicon.compute()
        _computed[key] = lexicon
    return lexicon


def lexicon_for(settings: Settings) -> Lexicon:
    """The lexicon under the settings' INDEX_DIR (`load_lexicon`)."""
    return load_lexicon(settings.index_dir / DERIVED)


@lru_cache(maxsize=1)
def computed_lexicon() -> Lexicon:
    """The lexicon computed in memory, once per process, for callers without an INDEX_DIR."""
    key = lexicon_key()
    lexicon = _computed.get(key) or Lexicon.compute()
    _computed[key] = lexicon
    return lexicon
