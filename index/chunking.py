"""Split the corpus into retrieval chunks with stable ids and exact offsets.

Article chunks are runs of whole sentences inside one paragraph (one sentence by default: measured
best on this corpus, see docs/retrieval.md), in every language; a translation chunk
carries the id of the French chunk it is aligned with, so an English hit quotes the original.
Fact-check notes give one chunk per language section, carrying their claim and verdict, and
their sentences (`note_sentences`) are the candidates for an answer's lead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from index.corpus import ClaimSpan, Corpus, Document, FactCheck
from index.text import split_sentences

ChunkKind = Literal["article", "factcheck"]


@dataclass(frozen=True)
class ChunkingConfig:
    max_sentences: int = 1
    max_chars: int = 600

    def to_json(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    id: str
    kind: ChunkKind
    doc: str  # document id, or note id for a fact-check chunk
    language: str
    text: str  # the exact corpus text of the chunk (what may be quoted)
    paragraph: int | None = None
    start: int = 0  # character offsets inside the paragraph (article) or section (note)
    end: int = 0
    sentences: tuple[tuple[int, int], ...] = ()  # sentence spans, relative to the paragraph
    canonical: str | None = None  # for a translation chunk: the aligned original chunk id
    notes: tuple[str, ...] = ()  # fact-check notes whose claim overlaps this chunk
    verdict: str | None = None  # for fact-check chunks
    claim: str | None = None

    @property
    def embed_text(self) -> str:
        """What the encoder and BM25 see: a note's claim is indexed with its section."""
        if self.kind == "factcheck" and self.claim:
            return f"{self.claim}\n{self.text}"
        return self.text

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["sentences"] = [list(s) for s in self.sentences]
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        data = dict(data)
        data["sentences"] = tuple(tuple(s) for s in data.get("sentences", ()))
        data["notes"] = tuple(data.get("notes", ()))
        return cls(**data)


def _overlaps(span: ClaimSpan | None, paragraph: int, start: int, end: int) -> bool:
    return (
        span is not None and span.paragraph == paragraph and span.start < end and start < span.end
    )


def _article_chunks(
    doc: Document, canonical_doc: str | None, notes: tuple[FactCheck, ...], config: ChunkingConfig
) -> list[Chunk]:
    chunks: list[Chunk] = []
    for para in doc.paragraphs:
        sentences = list(para.sentences)
        i = 0
        while i < len(sentences):
            j = i + 1
            # Grow the chunk by whole sentences while within both limits.
            while (
                j < len(sentences)
                and j - i < config.max_sentences
                and sentences[j][1] - sentences[i][0] <= config.max_chars
            ):
                j += 1
            start, end = sentences[i][0], sentences[j - 1][1]
            suffix = f"p{para.number}:s{i}-{j - 1}"
            overlapping = tuple(
                n.id
                for n in notes
                if canonical_doc is None and _overlaps(n.claim_span, para.number, start, end)
            )
            chunks.append(
                Chunk(
                    id=f"{doc.id}:{suffix}",
                    kind="article",
                    doc=doc.id,
                    language=doc.language,
                    text=para.text[start:end],
                    paragraph=para.number,
                    start=start,
                    end=end,
                    sentences=tuple(sentences[i:j]),
                    canonical=f"{canonical_doc}:{suffix}" if canonical_doc else None,
                    notes=overlapping,
                )
            )
            i = j
    return chunks


def _note_chunks(note: FactCheck) -> list[Chunk]:
    return [
        Chunk(
            id=f"{note.id}:{language}",
            kind="factcheck",
            doc=note.id,
            language=language,
            text=text,
            start=0,
            end=len(text),
            verdict=note.verdict,
            claim=note.claim,
            notes=(note.id,),
        )
        for language, text in sorted(note.sections.items())
    ]


def chunk_corpus(corpus: Corpus, config: ChunkingConfig) -> list[Chunk]:
    """Every chunk of the corpus, in a deterministic order."""
    chunks = _article_chunks(corpus.article, None, corpus.factchecks, config)
    for _, translation in sorted(corpus.translations.items()):
        translated = _article_chunks(translation, corpus.article.id, corpus.factchecks, config)
        # A translation chunk bears the notes of the original chunk it is aligned with.
        notes_by_id = {c.id: c.notes for c in chunks}
        chunks.extend(
            Chunk(**{**c.__dict__, "notes": notes_by_id.get(c.canonical or "", ())})
            for c in translated
        )
    for note in corpus.factchecks:
        chunks.extend(_note_chunks(note))
    return chunks


@dataclass(frozen=True)
class NoteSentence:
    """One sentence of a note's language section: the candidates for an answer's lead.

    `start`/`end` are offsets into the section text (the note chunk's `text`); `aligned` is the
    position, in `note_sentences`' list, of the same sentence in the note's other language
    section, or -1 when the two sections do not split into the same sentences per paragraph."""

    note: str
    language: str
    start: int
    end: int
    text: str
    aligned: int = -1

    def to_json(self) -> list[Any]:
        return [self.note, self.language, self.start, self.end, self.aligned]

    @classmethod
    def from_json(cls, data: list[Any], sections: dict[tuple[str, str], str]) -> NoteSentence:
        note, language, start, end, aligned = data
        text = sections[(note, language)][start:end]
        return cls(note, language, int(start), int(end), text, int(aligned))


def _paragraph_sentences(text: str) -> list[list[tuple[int, int]]]:
    """Sentence spans of `text`, grouped by paragraph (blocks between blank lines)."""
    out: list[list[tuple[int, int]]] = []
    for block in re.finditer(r"\S(?:.|\n(?!\s*\n))*", text):
        offset = block.start()
        out.append([(offset + s, offset + e) for s, e in split_sentences(block.group())])
    return out


def note_sentences(chunks: Sequence[Chunk]) -> list[NoteSentence]:
    """Every sentence of every note section, in chunk order, aligned across languages by
    position when both sections have as many sentences in each paragraph."""
    sections = [c for c in chunks if c.kind == "factcheck"]
    split = {(c.doc, c.language): _paragraph_sentences(c.text) for c in sections}
    rows: dict[tuple[str, str], list[int]] = {}
    out: list[NoteSentence] = []
    for c in sections:
        for paragraph in split[(c.doc, c.language)]:
            for s, e in paragraph:
                rows.setdefault((c.doc, c.language), []).append(len(out))
                out.append(NoteSentence(c.doc, c.language, s, e, c.text[s:e]))
    for (note, language), mine in rows.items():
        for other, theirs in rows.items():
            if other[0] != note or other[1] == language:
                continue
            shape = [len(p) for p in split[(note, language)]]
            if shape == [len(p) for p in split[other]]:
                for i, j in zip(mine, theirs, strict=True):
                    out[i] = replace(out[i], aligned=j)
    return out
