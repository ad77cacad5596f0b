"""Thread context for follow-up questions (issue 13, item 1).

Two parts, both independent of any chat library:

- `ConversationMemory`: per conversation key (a Discord thread, a Slack thread, a DM, a console
  session), the last few questions and the topic of the bot's answer to each; bounded in turns,
  expiring after a while, LRU-bounded in conversations, thread-safe. Adapters feed it.
- `contextualize(question, history, finder)`: a pure function deciding whether a question is an
  elliptical follow-up ("et elle part quand ?", "what rocket?", "was he ever on board?") and, if
  so, returning one question text enriched with what it refers to — the entities (or, failing
  those, the topic words) of the most recent earlier turn that named any. A question that names
  its own subject ("and what about svom?", "et chang'e 8 ?") or says it changes topic ("autre
  chose:", "unrelated but") is answered on its own terms. The result is one text, prepared and
  encoded once like any question: context costs no second encode.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

from index.text import STOPWORDS, fold, plain_quotes

DEFAULT_MAX_TURNS = 4
DEFAULT_TTL_SECONDS = 30 * 60.0
DEFAULT_MAX_CONVERSATIONS = 10_000


class EntityFinder(Protocol):
    """What names the specific things a text is about (`bot.answering.focus.CorpusFocus` is one)."""

    def entities(self, text: str) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Turn:
    """One earlier question of a conversation, with the topic of the bot's answer to it
    (entities its quotes and notes named; empty when unknown or refused)."""

    question: str
    answer_topic: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contextualized:
    """The text to answer for a question read in its conversation."""

    text: str
    used_history: bool
    carried: tuple[str, ...] = ()


# ---------------------------------------------------------------------------- reading a thread

# "autre chose :", "unrelated but", "sinon", "new question": the asker moves on.
_TOPIC_CHANGE = re.compile(
    r"^\s*(?:ok(?:ay)?[\s,:]+)?(?:autre chose|autre question|rien a voir|changement de sujet|sinon"
    r"|unrelated|different question|new question|another question|other question|off topic"
    r"|changing (?:the )?subject|on another note)\b"
)
# A question that opens on "and…", "et…", "what about…" continues the thread.
_CONTINUES = re.compile(
    r"^\s*(?:and|et|also|aussi|so|alors|du coup|then|but|mais|ok(?:ay)?\s+(?:and|et)|what about"
    r"|how about|et pour|et sinon|and for|and the|et le|et la|et les)\b"
)
# Words that point back at something said before (pronouns, demonstratives, "ce truc").
_ANAPHORA = frozenset(
    """
    il elle ils elles ca cela ce cet cette ces celui celle ceux celles lui leur y la-bas
    it its he him his she her hers they them their that this those these there one
    truc machin chose thing stuff
    """.split()
)
# Words that carry no topic of their own: question words, chat filler, verbs of saying.
_NO_TOPIC = STOPWORDS | frozenset(
    """
    quoi quel quelle quels quelles qui quand comment pourquoi combien ou where when what who why
    how which whose c'est c'etait est-ce qu'est-ce exactement exactly au juste vraiment really
    actually finalement finally en vrai juste just genre like ok okay alors so donc then et and
    says said say dit dire article l'article fait faire did does do is was were are
    """.split()
)
_WORD = re.compile(r"[\w'-]+", re.UNICODE)
# A content word has at least this many letters.
_MIN_TOPIC_LETTERS = 3
# A question with at most this many topic words of its own reads as elliptical.
_ELLIPTICAL_WORDS = 2


def topic_words(text: str) -> tuple[str, ...]:
    """The content words of `text` as written (question words, filler and stop words removed)."""
    out: list[str] = []
    for raw in _WORD.findall(plain_quotes(text)):
        word = fold(raw).strip("'-")
        bare = re.sub(r"^(?:l|d|j|m|n|s|t|c|qu)'", "", word)
        if len(bare) < _MIN_TOPIC_LETTERS or bare in _NO_TOPIC or word in _NO_TOPIC:
            continue
        if bare.isdigit() and len(bare) < 3:
            continue
        if raw not in out:
            out.append(raw)
    return tuple(out)


def changes_topic(question: str) -> bool:
    """True when the question says it is about something else ("autre chose:", "unrelated")."""
    return bool(_TOPIC_CHANGE.search(fold(question)))


def is_elliptical(question: str) -> bool:
    """True when the question leans on what came before: it opens on "and/et/what about", points
    back with a pronoun ("he", "elle", "ça", "that"), or has at most two topic words."""
    folded = fold(plain_quotes(question))
    if _CONTINUES.search(folded):
        return True
    words = {re.sub(r"^(?:l|d|j|m|n|s|t|c|qu)'", "", w) for w in _WORD.findall(folded)}
    if words & _ANAPHORA:
        return True
    return len(topic_words(question)) <= _ELLIPTICAL_WORDS


def contextualize(
    question: str, history: Sequence[Turn], finder: EntityFinder | None = None
) -> Contextualized:
    """`question` read in its conversation (`history`: earlier turns, oldest first).

    An elliptical follow-up gets the entities of the most recent earlier turn that named any
    (read the same way, so "svom ?" then "launched when?" then "from where?" still means SVOM),
    or failing those that turn's topic words; a question naming its own subject, or saying it
    changes topic, stays as it is.
    """
    find = finder.entities if finder is not None else _no_entities
    if not history or changes_topic(question) or find(question):
        return Contextualized(question, False)
    topic = thread_topic(history, find)
    if not topic or not is_elliptical(question):
        return Contextualized(question, False)
    carried = tuple(t for t in topic if fold(t) not in fold(question))
    if not carried:
        return Contextualized(question, False)
    return Contextualized(f"{question} {' '.join(carried)}", True, carried)


def thread_topic(
    history: Sequence[Turn], find: Callable[[str], tuple[str, ...]]
) -> tuple[str, ...]:
    """What the thread is about after `history`: the entities of the latest turn naming any, or
    the topic of the bot's answer to it, or the topic words of the latest self-contained turn.
    A turn that only follows up ("launched when?") keeps the topic it inherited."""
    topic: tuple[str, ...] = ()
    for turn in history:
        named = find(turn.question)
        if named:
            topic = named
        elif turn.answer_topic:
            topic = turn.answer_topic
        elif not topic or changes_topic(turn.question) or not is_elliptical(turn.question):
            topic = topic_words(turn.question) or topic
    return topic


def _no_entities(text: str) -> tuple[str, ...]:
    return ()


# ---------------------------------------------------------------------------- memory


@dataclass
class _Thread:
    turns: deque[Turn]
    touched: float
    last_answer: str | None = None  # the id of the latest answer (feedback in words targets it)


class ConversationMemory:
    """The recent turns of many conversations: at most `max_turns` each, forgotten `ttl_seconds`
    after the last one, at most `max_conversations` (the least recently used go first).

    Thread-safe: the adapters' event loop and the answering workers may call it concurrently.
    Keys are whatever identifies a conversation (e.g. ("discord", thread_id)); nothing here reads
    or logs their content.
    """

    def __init__(
        self,
        max_turns: int = DEFAULT_MAX_TURNS,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_turns < 1 or max_conversations < 1 or ttl_seconds <= 0:
            raise ValueError("max_turns, max_conversations and ttl_seconds must be positive")
        self.max_turns = max_turns
        self.ttl_seconds = ttl_seconds
        self.max_conversations = max_conversations
        self._clock = clock
        self._threads: OrderedDict[Hashable, _Thread] = OrderedDict()
        self._lock = threading.Lock()

    def history(self, key: Hashable) -> tuple[Turn, ...]:
        """The remembered turns of `key`, oldest first (empty when unknown or expired)."""
        now = self._clock()
        with self._lock:
            thread = self._threads.get(key)
            if thread is None:
                return ()
            if now - thread.touched > self.ttl_seconds:
                del self._threads[key]
                return ()
            self._threads.move_to_end(key)
            return tuple(thread.turns)

    def last_answer(self, key: Hashable) -> str | None:
        """The id of the latest answer recorded in `key` (None when unknown or expired)."""
        now = self._clock()
        with self._lock:
            thread = self._threads.get(key)
            if thread is None or now - thread.touched > self.ttl_seconds:
                return None
            return thread.last_answer

    def record(
        self,
        key: Hashable,
        question: str,
        answer_topic: Sequence[str] = (),
        answer_id: str | None = None,
    ) -> None:
        """Remember one turn of `key` (the question as asked, the topic of the answer, and the
        answer's id when it has one)."""
        now = self._clock()
        turn = Turn(question, tuple(answer_topic))
        with self._lock:
            thread = self._threads.get(key)
            if thread is None or now - thread.touched > self.ttl_seconds:
                thread = _Thread(deque(maxlen=self.max_turns), now)
                self._threads[key] = thread
            thread.turns.append(turn)
            thread.touched = now
            if answer_id is not None:
                thread.last_answer = answer_id
            self._threads.move_to_end(key)
            while len(self._threads) > self.max_conversations:
                self._threads.popitem(last=False)

    def clear(self, key: Hashable) -> None:
        """Forget `key` (the console's `/new`)."""
        with self._lock:
            self._threads.pop(key, None)

    def prune(self) -> int:
        """Forget the conversations quiet for longer than `ttl_seconds` (the intake calls this on
        a timer: a conversation nobody comes back to is not kept until it is evicted); returns
        how many were forgotten."""
        now = self._clock()
        with self._lock:
            expired = [k for k, t in self._threads.items() if now - t.touched > self.ttl_seconds]
            for key in expired:
                del self._threads[key]
        return len(expired)

    def __len__(self) -> int:
        """Conversations held (expired ones included until touched or evicted)."""
        with self._lock:
            return len(self._threads)
