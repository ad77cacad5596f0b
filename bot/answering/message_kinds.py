"""What a message is before it is answered (issue 22): a fact question, or something else.

Kinds: `fact` (today's path), `gist` (the article as a whole), `reliability` (whether to trust
it), `about` (its outlet, date, link, title, language), `greeting`, `thanks` (acknowledgements
included), `help` ("who are you" included), `feedback` (in words) and `multi` (several questions).

How: cheap rules where they are clearly better (a message of emoji only, a message made only of
greeting or thanks words, a question split on "?" / " et " / " and "), then the nearest exemplar
messages (index/data/message_kinds.{fr,en}.tsv) by cosine, on the vector the engine already
computes for retrieval — the exemplars are embedded the way the engine embeds a question
(`bot.answering.engine.text_to_embed`: chat cleaning, and a French message's English gloss), so `classify`
costs no second encode. Their matrix is computed once and stored under `INDEX_DIR/derived/`
(bot/answering/kind_vectors.py). A kind other than `fact` must win clearly (an absolute floor and a margin
over the best `fact` exemplar): when unsure, a message is a fact question, since refusing an
ordinary question is as bad as a wrong answer.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, get_args

import numpy as np

from bot.answer import Language
from bot.answering.chattext import clean_chat, strip_markup
from index.embeddings import Vectors
from index.store import BACKGROUND_FILE
from index.text import fold, plain_quotes

Kind = Literal[
    "fact", "gist", "reliability", "about", "greeting", "thanks", "help", "feedback", "multi"
]
KINDS: tuple[Kind, ...] = get_args(Kind)
CONVERSATION_KINDS: frozenset[Kind] = frozenset({"greeting", "thanks", "help", "feedback"})
EXEMPLAR_DIR = BACKGROUND_FILE.parent  # index/data, installed with the index package
LANGUAGES: tuple[Language, ...] = ("fr", "en")
_EXEMPLAR_KINDS: dict[str, Kind] = {k: k for k in KINDS if k != "multi"}  # multi: a rule

# A kind other than fact is chosen only when its best exemplar is at least this close to the
# message and beats the best fact exemplar by the margin (tuned on the dev lines of
# tests/data/first_contact.jsonl and the dev set's in-scope questions).
MIN_SIMILARITY = 0.40
MARGIN = 0.12


@dataclass(frozen=True)
class MessageKind:
    """What a message is: its kind, how sure (a cosine margin, 1.0 for a rule) and, for `multi`,
    the questions it holds in order."""

    kind: Kind
    confidence: float
    parts: tuple[str, ...] = ()
    rule: str = ""  # the rule that decided, or "" for the exemplars

    @property
    def is_fact(self) -> bool:
        """Answered by retrieval: one fact question or several."""
        return self.kind in ("fact", "multi")


@dataclass(frozen=True)
class Exemplar:
    language: Language
    kind: Kind
    text: str


@dataclass(frozen=True)
class KindExemplars:
    """The exemplar messages and their vectors (one row each, unit length)."""

    exemplars: tuple[Exemplar, ...]
    matrix: Vectors
    kinds: tuple[Kind, ...]  # the kinds present, in `KINDS` order
    rows_by_kind: tuple[np.ndarray, ...]  # row indices of each kind in `kinds`
    # The rows grouped by kind, in `kinds` order, and where each kind's group starts: one
    # `np.maximum.reduceat` gives every kind's best cosine.
    grouped: np.ndarray = field(init=False, repr=False, compare=False)
    starts: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sizes = [len(rows) for rows in self.rows_by_kind]
        grouped = np.concatenate(self.rows_by_kind) if sizes else np.zeros(0, dtype=np.intp)
        object.__setattr__(self, "grouped", grouped.astype(np.intp))
        object.__setattr__(self, "starts", np.cumsum([0, *sizes[:-1]], dtype=np.intp))


@dataclass(frozen=True)
class ExemplarRow:
    """One row of the exemplar matrix: an exemplar, read as a question or as typed."""

    exemplar: Exemplar
    as_question: bool


def load_exemplars(directory: Path = EXEMPLAR_DIR) -> tuple[Exemplar, ...]:
    """The exemplar messages of both languages (`message_kinds.{fr,en}.tsv`: kind<TAB>text)."""
    out: list[Exemplar] = []
    for language in LANGUAGES:
        path = directory / f"message_kinds.{language}.tsv"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            name, sep, text = line.partition("\t")
            kind = _EXEMPLAR_KINDS.get(name)
            if not sep or kind is None or not text.strip():
                raise ValueError(f"{path}:{n}: expected '<kind>\\t<message>', got {line!r}")
            out.append(Exemplar(language, kind, text.strip()))
    return tuple(out)


def exemplar_rows(exemplars: Sequence[Exemplar] | None = None) -> tuple[ExemplarRow, ...]:
    """The exemplar matrix's rows, in order: every exemplar read as the engine reads a question,
    then every French one again as typed, as the engine embeds a short French message it took for
    English ("en resume ?"). Encodes nothing."""
    given = tuple(exemplars if exemplars is not None else load_exemplars())
    return (
        *(ExemplarRow(e, as_question=True) for e in given),
        *(ExemplarRow(e, as_question=False) for e in given if e.language == "fr"),
    )


def embed_exemplars(
    encode: Callable[[Sequence[str]], Vectors],
    embed_text: Callable[[str, Language], str],
    rows: Sequence[ExemplarRow],
) -> Vectors:
    """The unit vectors of `rows` with `encode`, a row read as a question going through
    `embed_text(cleaned, language)` (the engine's `text_to_embed`: a French one's gloss)."""
    texts = []
    for row in rows:
        cleaned = clean_chat(row.exemplar.text) or row.exemplar.text
        texts.append(embed_text(cleaned, row.exemplar.language) if row.as_question else cleaned)
    matrix = np.asarray(encode(texts), dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def kind_exemplars(rows: Sequence[ExemplarRow], matrix: Vectors) -> KindExemplars:
    """`rows` and their vectors (`matrix`, one row each, in order) grouped by kind."""
    items = tuple(row.exemplar for row in rows)
    kinds = tuple(k for k in KINDS if any(e.kind == k for e in items))
    by_kind = tuple(np.array([i for i, e in enumerate(items) if e.kind == k]) for k in kinds)
    return KindExemplars(items, matrix, kinds, by_kind)


def exemplar_matrix(
    encode: Callable[[Sequence[str]], Vectors],
    embed_text: Callable[[str, Language], str],
    exemplars: Sequence[Exemplar] | None = None,
) -> KindExemplars:
    """Embed the exemplars with `encode`, each read as the engine reads a question:
    `embed_text(cleaned, language)` (the engine's `text_to_embed`). The shipped exemplars' matrix
    is stored under `INDEX_DIR/derived/` (bot/answering/kind_vectors.py)."""
    rows = exemplar_rows(exemplars)
    return kind_exemplars(rows, embed_exemplars(encode, embed_text, rows))


class ExemplarStore(Protocol):
    """Where the shipped exemplars' matrix is kept between runs (bot/answering/kind_vectors.py)."""

    def get(self, rows: int, compute: Callable[[], Vectors]) -> Vectors:
        """The stored matrix of `rows` rows, or `compute()`'s, then stored."""
        ...


# ---------------------------------------------------------------------------- rules

# Words a bare greeting, thanks or help request is made of (accent-folded), and the filler that may
# come with them ("hello bot", "merci a tous"). A message made only of these is that kind.
_GREETING_WORDS = frozenset(
    "bonjour salut coucou bonsoir hello hi hey heya hiya yo wesh slt cc re hallo howdy sup "
    "morning evening afternoon good bjr bsr".split()
)
_THANKS_WORDS = frozenset(
    "merci thanks thank thx ty tx mercii merciii ok okay okk oki k kk d'accord dac daccord "
    "cool super top parfait nickel genial great nice perfect noted cheers got it compris "
    "marche ca bien vu entendu bon".split()
)
_HELP_WORDS = frozenset("help aide aidez /help commandes commands".split())
_FILLER = frozenset(
    "bot the le la les a tous toutes tout everyone all you u guys folks there everybody "
    "monde beaucoup lot so much very tres c'est it's is for pour la reponse answer stp "
    "svp please pls plz me moi de du un une and et".split()
)
_WAVE = "\U0001f44b"
_HELP_MARKS = frozenset({"?", "??", "???", "❓", "❔"})
_WORD = re.compile(r"[\w'/]+")
_TLDR = re.compile(r"\btl\s*[;:,.]?\s*dr\b")  # "tl;dr", "tldr": too short for the encoder

# Words that start a new question after " et " / " and " (accent-folded).
_QUESTION_START = re.compile(
    r"^(?:qui|que|quoi|quand|combien|comment|pourquoi|ou|quel|quelle|quels|quelles|est-ce|"
    r"c'est quoi|qu'est-ce|qu'est ce|y a-t-il|what|what's|when|who|whom|where|which|how|why|"
    r"whose|is|are|does|do|did|can|could|has)\b"
)
_AND_SPLIT = re.compile(r"\s*(?:,\s*)?\b(?:et|and)\s+(?=\S)", re.IGNORECASE)
_QUESTION_END = re.compile(r"\?+")
# A "?" with something other than white space or "?" after it: where `_split_marks` may cut.
_INNER_MARK = re.compile(r"\?[\s?]*[^\s?]")


def _words(text: str) -> list[str]:
    return _WORD.findall(fold(plain_quotes(text)))


def _only(words: Sequence[str], vocabulary: frozenset[str]) -> bool:
    """`words` are all in `vocabulary` or filler, and at least one is in `vocabulary`."""
    return any(w in vocabulary for w in words) and all(
        w in vocabulary or w in _FILLER for w in words
    )


_VOCABULARIES: tuple[tuple[Kind, frozenset[str]], ...] = (
    ("help", _HELP_WORDS),
    ("thanks", _THANKS_WORDS),
    ("greeting", _GREETING_WORDS),
)
_GREETING_OR_THANKS = _GREETING_WORDS | _THANKS_WORDS
# Every word a "words" rule accepts: a message with a word outside it is none of their kinds.
_RULE_WORDS = _HELP_WORDS | _THANKS_WORDS | _GREETING_WORDS | _FILLER


def rule_kind(text: str) -> MessageKind | None:
    """The kind when a cheap rule is sure of it: emoji or marks only, or only greeting / thanks /
    help words; None otherwise."""
    bare = strip_markup(text)
    if not any(ch.isalnum() for ch in bare):
        if _WAVE in text:
            return MessageKind("greeting", 1.0, rule="emoji")
        if bare.replace(" ", "") in _HELP_MARKS:
            return MessageKind("help", 1.0, rule="marks")
        return MessageKind("thanks", 1.0, rule="emoji")  # 👍, 🙏, ❤️: an acknowledgement
    words = _words(bare)
    if _TLDR.search(fold(bare)):
        return MessageKind("gist", 1.0, rule="tldr")
    if not _RULE_WORDS.issuperset(words):  # most messages: one set operation says no rule fits
        return None
    for kind, vocabulary in _VOCABULARIES:
        if _only(words, vocabulary):
            return MessageKind(kind, 1.0, rule="words")
    if _only(words, _GREETING_OR_THANKS):  # "ok merci salut", "hi thanks"
        mixed: Kind = "thanks" if any(w in _THANKS_WORDS for w in words) else "greeting"
        return MessageKind(mixed, 1.0, rule="words")
    return None


def _asks(cleaned: str) -> bool:
    """The message reads as a question: it ends with "?" or starts with a question word
    (`cleaned`: the message's `clean_chat(text) or text`)."""
    cleaned = cleaned.strip()
    return cleaned.endswith("?") or bool(_QUESTION_START.match(fold(plain_quotes(cleaned))))


def split_questions(text: str) -> tuple[str, ...]:
    """The questions `text` holds (chat-cleaned, as the engine reads them) when it holds several,
    else `()`: split after each "?" followed by more question, and on " et " / " and " when what
    follows starts a new question ("qui a signé et combien de kg ?"). Each part has two words."""
    cleaned = clean_chat(text) or text
    if not _INNER_MARK.search(cleaned) and not _AND_SPLIT.search(cleaned):
        return ()  # one question at most: no "?" before its end, no " et " / " and " to cut on
    chunks = _split_marks(cleaned)
    # A chunk of fewer than two words cannot be cut further and is a part of its own ("… ?
    # vraiment ?"): no split, without looking for "et" / "and" in the others.
    if any(c.strip(" ,;") and len(_words(c)) < 2 for c in sorted(chunks, key=len)):
        return ()
    pieces: list[str] = []
    for chunk in chunks:
        pieces.extend(_split_and(chunk))
    parts = [p.strip(" ,;") for p in pieces if p.strip(" ,;")]
    # The shortest parts first: the one with fewer than two words, if any, is among them.
    if len(parts) < 2 or any(len(_words(p)) < 2 for p in sorted(parts, key=len)):
        return ()
    return tuple(parts)


def _split_marks(text: str) -> list[str]:
    """`text` cut after each run of "?"; a tail that is not itself a question stays attached."""
    out: list[str] = []
    start = 0
    for m in _QUESTION_END.finditer(text):
        out.append(text[start : m.end()])
        start = m.end()
    tail = text[start:].strip()
    if tail:
        if out and not _QUESTION_START.match(fold(tail)):
            out[-1] += " " + tail  # "c'est vrai ?? serieux": an aside, not a second question
        else:
            out.append(tail)
    return out


def _split_and(chunk: str) -> list[str]:
    """`chunk` cut on " et " / " and " where a new question starts; the first piece must itself
    read as a question (it starts with a question word or ends a clause with a verb)."""
    out: list[str] = []
    rest = chunk
    while True:
        for m in _AND_SPLIT.finditer(rest):
            after = rest[m.end() :]
            if (
                _QUESTION_START.match(fold(plain_quotes(after)))
                and len(_words(rest[: m.start()])) >= 2
            ):
                out.append(rest[: m.start()])
                rest = after
                break
        else:
            out.append(rest)
            return out


# ---------------------------------------------------------------------------- the step


def nearest(vector: Vectors, exemplars: KindExemplars) -> dict[Kind, float]:
    """The best cosine of `vector` to each kind's exemplars."""
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.sqrt(v.dot(v)))  # `np.linalg.norm(v)`'s own computation, without its checks
    sims = exemplars.matrix @ (v / norm if norm else v)
    if not exemplars.kinds:
        return {}
    best = np.maximum.reduceat(sims[exemplars.grouped], exemplars.starts).tolist()
    return dict(zip(exemplars.kinds, best, strict=True))


def classify(
    text: str,
    vector: Vectors,
    exemplars: KindExemplars,
    min_similarity: float = MIN_SIMILARITY,
    margin: float = MARGIN,
) -> MessageKind:
    """What `text` is, given `vector`: the engine's embedding of the same message (of
    `Prepared.embedded`, computed for retrieval anyway). Pure; costs one small matrix product."""
    # The rules and the reading below strip and clean the message the engine read already:
    # `strip_markup` and `clean_chat` remember it.
    ruled = rule_kind(text)
    if ruled is not None:
        return ruled
    scores = nearest(vector, exemplars)
    fact = scores.get("fact", 0.0)
    others: list[tuple[float, Kind]] = [(s, k) for k, s in scores.items() if k != "fact"]
    best, best_kind = max(others) if others else (0.0, "fact")
    if best_kind != "fact" and best >= min_similarity and best - fact >= margin:
        if best_kind == "feedback" and _asks(clean_chat(text) or text):
            # "qu'est-ce qui est faux ?" asks what the article gets wrong; feedback is said.
            return MessageKind("reliability", round(best - fact, 4))
        return MessageKind(best_kind, round(best - fact, 4))
    parts = split_questions(text)
    if parts:
        return MessageKind("multi", round(fact - best, 4), parts)
    return MessageKind("fact", round(fact - best, 4))


class MessageKinds:
    """The step bound to one encoder: the exemplar vectors are loaded from `store` (or computed)
    on first use, then `classify` is a matrix product per message."""

    def __init__(
        self,
        encode: Callable[[Sequence[str]], Vectors],
        embed_text: Callable[[str, Language], str],
        exemplars: Sequence[Exemplar] | None = None,
        store: ExemplarStore | None = None,
    ) -> None:
        if store is not None and exemplars is not None:
            raise ValueError("a store keeps the shipped exemplars' matrix, not other exemplars'")
        self._encode = encode
        self._embed_text = embed_text
        self._given = tuple(exemplars) if exemplars is not None else None
        self._store = store
        self._matrix: KindExemplars | None = None
        self._lock = threading.Lock()

    @property
    def exemplars(self) -> KindExemplars:
        with self._lock:
            if self._matrix is None:
                rows = exemplar_rows(self._given)

                def compute() -> Vectors:
                    return embed_exemplars(self._encode, self._embed_text, rows)

                store = self._store
                matrix = store.get(len(rows), compute) if store is not None else compute()
                self._matrix = kind_exemplars(rows, matrix)
            return self._matrix

    def classify(self, text: str, vector: Vectors) -> MessageKind:
        """What `text` is, given the engine's vector of it (see `classify`)."""
        return classify(text, vector, self.exemplars)
