"""The answering core: one immutable index + the embedder -> `Answer`s.

An `Engine` never changes once made; a rebuild makes a new one (`rebuilt`, `reloaded`) and the
service swaps the reference. Building, loading and checking the index is bot/answering/index_lifecycle.py's
job. Nothing here imports a chat library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.answer import Answer, ArticleCard, FactCheckRef, Language
from bot.answering import acts
from bot.answering.chattext import clean_chat
from bot.answering.compose import compose, factcheck_ref, refusal
from bot.answering.conversation import Turn, contextualize
from bot.answering.focus import CorpusFocus, NearMiss
from bot.answering.index_lifecycle import (
    NoteSource,
    embedder_for,
    load_or_build,
    load_published,
    rebuild,
)
from bot.answering.kind_vectors import stored_message_kinds
from bot.answering.language import detect_language
from bot.answering.lead import LeadIndex, QuestionScorer
from bot.answering.lexicon import lexicon_for
from bot.answering.message_kinds import CONVERSATION_KINDS, MessageKind, MessageKinds
from bot.answering.relevance import GATES, Gate, is_relevant
from bot.answering.retrieval import Retrieval, Retriever
from bot.answering.status import DocumentInfo, IndexInfo
from bot.settings import Settings
from index.chunking import Chunk
from index.embeddings import Embedder, Vectors
from index.glossary import default_glossary
from index.store import IndexStore, LoadedIndex
from index.text import content_words

MAX_TOPIC_NOTES = 5


def text_to_embed(question: str, language: Language, gloss: bool = True) -> str:
    """What the model embeds for a question: the question itself, or for a French question its
    English word-by-word gloss (when `gloss`) — the bundled model is English-only and reads the
    gloss far better than the French (README, "Answer quality")."""
    return default_glossary().gloss(question) if gloss and language == "fr" else question


@dataclass(frozen=True)
class Prepared:
    """A question made ready to answer: `asked` as the user typed it (cleaned of control
    characters), `question` what the retrieval reads (chat markup and abbreviations gone, typos
    fixed, and for an elliptical follow-up what it refers to carried from the conversation), its
    language, the text to embed, and the near miss that makes it out of scope, if any. Preparing
    is cheap and encodes nothing, so the service does it on the event loop while a worker thread
    encodes."""

    question: str
    language: Language
    embedded: str
    asked: str = ""
    carried: tuple[str, ...] = ()
    near_miss: NearMiss | None = None
    # The conversation it was read in: the parts of a message holding several questions are
    # read in the same one.
    history: tuple[str | Turn, ...] = ()


def prepare(
    question: str,
    settings: Settings,
    history: Sequence[str | Turn] = (),
    focus: CorpusFocus | None = None,
) -> Prepared:
    """Read `question` as a chat message in its conversation (`history`: earlier questions of the
    thread, oldest first), decide its language and pick the text to embed (a French question's
    English gloss). With the corpus' `focus`: typos fixed against the corpus, the entities of the
    thread carried into an elliptical follow-up, and near misses found."""
    read = _read(question, focus)
    language = detect_language(read)
    turns = [h if isinstance(h, Turn) else Turn(_read(h, focus)) for h in history]
    context = contextualize(read, turns, focus)
    near_miss = focus.check(context.text) if focus is not None else None
    embedded = text_to_embed(context.text, language, settings.french_gloss)
    return Prepared(
        context.text, language, embedded, question, context.carried, near_miss, tuple(history)
    )


def _read(question: str, focus: CorpusFocus | None) -> str:
    """`question` without chat markup and abbreviations, its typos fixed against the corpus."""
    cleaned = clean_chat(question) or question
    return focus.correct(cleaned) if focus is not None else cleaned


# One question of a message holding several: prepared, retrieved, and its vector.
_Part = tuple[Prepared, Retrieval, Vectors]


def _retrieval_debug(found: Retrieval) -> dict[str, float]:
    return {
        "dense": round(found.dense_top, 4),
        "margin": round(found.margin, 4),
        "coverage": round(found.coverage, 4),
    }


class Engine:
    """Answers questions from one loaded index."""

    def __init__(
        self,
        settings: Settings,
        store: IndexStore,
        embedder: Embedder,
        index: LoadedIndex,
        notes: NoteSource | None = None,
        kinds: MessageKinds | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.index = index
        self.notes = notes  # the notes made in chat, laid over the corpus files at each build
        self.retriever = Retriever(index)
        # The everyday vocabulary: memory-mapped from INDEX_DIR/derived/ (computed once if missing).
        self.focus = CorpusFocus.from_index(index, lexicon_for(settings))
        self.leads = LeadIndex(index)
        # The article at a glance, made once: gist, about and conversation replies show it.
        self._card = acts.article_card(index)
        # What a message is, from the vector retrieval computes anyway (no second encode). The
        # exemplars' vectors depend on the encoder only: stored under INDEX_DIR/derived/
        # (kind_vectors.py), loaded at `open`, then shared by every engine a rebuild makes.
        self.kinds = kinds or stored_message_kinds(settings, embedder, text_to_embed)

    @classmethod
    def open(cls, settings: Settings, notes: NoteSource | None = None) -> Engine:
        """Load the model and the index (building it when missing, stale or corrupted), with the
        notes made in chat from `notes`."""
        embedder = embedder_for(settings)
        store = IndexStore(settings.index_dir)
        index = load_or_build(settings, store, embedder, notes)
        engine = cls(settings, store, embedder, index, notes)
        engine.kinds.exemplars  # noqa: B018 -- load (or embed) the exemplars now, off the answering path
        return engine

    # ------------------------------------------------------------------ facts about the index

    @property
    def version(self) -> str:
        return self.index.version

    @property
    def chunk_count(self) -> int:
        return len(self.index.chunks)

    @property
    def notes_revision(self) -> int:
        """The newest chat revision of the notes this index was built with."""
        return self.index.manifest.get("notes_revision", 0)

    def published_version(self) -> str | None:
        return self.store.published_version()

    def info(self) -> IndexInfo:
        m = self.index.manifest
        return IndexInfo(
            documents=tuple(
                DocumentInfo(d.id, d.title, d.language, d.url) for d in self.index.documents
            ),
            note_count=len(self.index.notes),
            version=self.version,
            model=m["model"],
            built_at=m["built_at"],
            chunk_count=self.chunk_count,
        )

    # ------------------------------------------------------------------ questions

    def prepare(self, question: str, history: Sequence[str | Turn] = ()) -> Prepared:
        """`question` (cleaned) read in its conversation against this index: see `prepare`."""
        return prepare(question, self.settings, history, self.focus)

    def answer_many(
        self, questions: Sequence[str | Prepared], gates: dict[Language, Gate] | None = None
    ) -> list[Answer]:
        """Answer cleaned (or prepared) questions; their embeddings are computed in one batch."""
        if not questions:
            return []
        items = [q if isinstance(q, Prepared) else self.prepare(q) for q in questions]
        vectors = self.embedder.encode_queries([p.embedded for p in items])
        found = self.retriever.search_many([p.question for p in items], vectors)
        kinds = [
            self.kinds.classify(p.asked or p.question, v)
            for p, v in zip(items, vectors, strict=True)
        ]
        parts = self._parts(items, kinds)
        answers = []
        for i, (p, f, v, k) in enumerate(zip(items, found, vectors, kinds, strict=True)):
            answer = self._reply(p, f, v, gates, k, parts.get(i, ()))
            # The retrieval's figures, whatever the reply (`factbot eval` reads them): a fact
            # answer to the message has them already (`_answer` sets all three or none).
            if not answer.debug:
                answer.debug.update(_retrieval_debug(f))
            answers.append(answer)
        return answers

    def answer(self, question: str) -> Answer:
        return self.answer_many([question])[0]

    def card(self) -> ArticleCard:
        """The article at a glance (`/about`, `factbot about`), made once per engine."""
        return self._card

    def _parts(
        self, items: Sequence[Prepared], kinds: Sequence[MessageKind]
    ) -> dict[int, tuple[_Part, ...]]:
        """The questions of every message holding several, each read in the message's thread,
        encoded together (one encode for all the parts of a batch) and retrieved; by position
        in `items`. A message with a part that has no content word is left out: it is answered
        whole (see `_answer_parts`)."""
        wanted = {
            i: [self.prepare(part, p.history) for part in k.parts]
            for i, (p, k) in enumerate(zip(items, kinds, strict=True))
            if k.kind == "multi" and k.parts and all(content_words(part) for part in k.parts)
        }
        flat = [q for qs in wanted.values() for q in qs]
        if not flat:
            return {}
        vectors = self.embedder.encode_queries([q.embedded for q in flat])
        found = self.retriever.search_many([q.question for q in flat], vectors)
        out: dict[int, tuple[_Part, ...]] = {}
        at = 0
        for i, qs in wanted.items():
            out[i] = tuple(
                zip(qs, found[at : at + len(qs)], vectors[at : at + len(qs)], strict=True)
            )
            at += len(qs)
        return out

    def _reply(
        self,
        prepared: Prepared,
        found: Retrieval,
        vector: Vectors,
        gates: dict[Language, Gate] | None,
        kind: MessageKind,
        parts: tuple[_Part, ...] = (),
    ) -> Answer:
        """The reply the message's kind calls for: a fact answer (retrieval, gate, lead), or
        one built from the index alone (bot/answering/acts.py), or one answer per question."""
        asked, language = prepared.asked or prepared.question, prepared.language
        if kind.kind in ("gist", "reliability", "about") and prepared.near_miss is not None:
            # It names what the corpus does not hold ("chang'e 8 c fiable ?"): refused.
            return self._answer(prepared, found, vector, gates)
        if kind.kind == "gist":
            return acts.gist(asked, language, self.index, self._card)
        if kind.kind == "reliability":
            return acts.reliability(asked, language, self.index, self._card)
        if kind.kind == "about":
            return acts.about(asked, language, self.index, self._card)
        if kind.kind in CONVERSATION_KINDS:
            return acts.conversation(asked, language, kind.kind, self.index, self._card)
        whole = self._answer(prepared, found, vector, gates)
        if kind.kind == "multi" and parts:
            return self._answer_parts(prepared, parts, gates, whole)
        return whole

    def _answer_parts(
        self,
        prepared: Prepared,
        parts: Sequence[_Part],
        gates: dict[Language, Gate] | None,
        whole: Answer,
    ) -> Answer:
        """Each question of a message answered on its own (its own retrieval, gate and lead;
        `_parts` read, encoded and retrieved them), joined into one reply. Two questions about
        one thing ("SVOM went up in 2021? when was it launched?": every part leads with the
        same source), a part that means nothing alone (refused while the whole message is not)
        or one with no content word ("is that what the article says?": `_parts` leaves such a
        message out) keep the answer to the whole message: it was one question."""
        # Each part is read in the message's thread, not after the earlier parts: "combien de
        # kg ?" read after "qui a signé l'accord" would carry the agreement and answer it
        # again. A part is one fact question: alone, "far side?" or "c'est vrai ?" would read
        # as something else.
        answers = [self._answer(p, f, v, gates) for p, f, v in parts]
        leads = {a.lead.source if a.lead is not None else None for a in answers}
        one_thing = len(leads) == 1 and None not in leads
        if one_thing or (not whole.refused and any(a.refused for a in answers)):
            return whole
        asked = prepared.asked or prepared.question
        return acts.joined(asked, prepared.language, answers, self.version)

    def _answer(
        self,
        prepared: Prepared,
        found: Retrieval,
        vector: Vectors,
        gates: dict[Language, Gate] | None,
    ) -> Answer:
        question, language, embedded = prepared.question, prepared.language, prepared.embedded
        asked = prepared.asked or question
        margin = found.margin
        if prepared.near_miss is not None:
            answer = refusal(asked, language, self.version, prepared.near_miss.message(language))
        elif not found.hits or not is_relevant(language, margin, found.coverage, gates or GATES):
            answer = refusal(asked, language, self.version)
        else:
            answer = compose(
                question,
                language,
                found.hits,
                self.index,
                self.settings.top_k,
                lambda q, chunk: self._pick_sentence(q, embedded, chunk),
                self.leads,
                QuestionScorer.of(question, found.words, self.retriever.idf, found.wanted),
                vector,
                asked,  # composed from what the retrieval read, to what the user asked
            )
        answer.debug.update(_retrieval_debug(found))
        return answer

    def _pick_sentence(self, question: str, embedded: str, chunk: Chunk) -> tuple[int, int]:
        """The sentence of a multi-sentence chunk closest to the question (dense, then words);
        `embedded` is the text the question was embedded as."""
        texts = [chunk.text[s - chunk.start : e - chunk.start] for s, e in chunk.sentences]
        vectors = self.embedder.encode_queries([embedded, *texts])
        q, rows = vectors[0], vectors[1:]
        words = set(content_words(question))
        scores = [
            float(rows[i] @ q) + 0.01 * len(words & set(content_words(t)))
            for i, t in enumerate(texts)
        ]
        return chunk.sentences[int(np.argmax(scores))]

    # ------------------------------------------------------------------ fact-check notes

    def all_factchecks(self, language: Language) -> list[FactCheckRef]:
        return [factcheck_ref(n, language) for n in self.index.notes.values()]

    def search_factchecks(self, topic: str, language: Language | None = None) -> list[FactCheckRef]:
        """Notes that best match `topic` (none when the topic is out of scope), summarised in
        `language` (default: the topic's)."""
        prepared = self.prepare(topic)
        vector = self.embedder.encode_queries([prepared.embedded])[0]
        found = self.retriever.search(topic, vector, frozenset({"factcheck"}))
        if not is_relevant(prepared.language, found.margin, found.coverage):
            return []
        lang = language or prepared.language
        return [factcheck_ref(self.index.notes[h.unit], lang) for h in found.hits[:MAX_TOPIC_NOTES]]

    # ------------------------------------------------------------------ rebuilds

    def rebuilt(self) -> Engine:
        """A new engine over a fresh build of the corpus (raises `ReindexFailed`)."""
        index = rebuild(self.settings, self.store, self.embedder, self.notes, self.index)
        return Engine(self.settings, self.store, self.embedder, index, self.notes, self.kinds)

    def reloaded(self) -> Engine | None:
        """A new engine over the build another process published, or None if it is unusable."""
        index = load_published(self.store, self.embedder)
        if index is None:
            return None
        return Engine(self.settings, self.store, self.embedder, index, self.notes, self.kinds)
