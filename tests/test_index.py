"""Index persistence: atomic builds, verified reloads, stale and corrupted indexes."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.answering.index_lifecycle import (
    IndexUnavailable,
    build_from_corpus,
    chunking_config,
    embedder_for,
    load_or_build,
)
from bot.settings import Settings
from index.chunking import ChunkingConfig, chunk_corpus
from index.corpus import load_corpus
from index.embeddings import Embedder, Vectors
from index.store import IndexCorrupt, IndexMissing, IndexStore
from tests.conftest import REAL_CORPUS


def _open(settings: Settings) -> tuple[IndexStore, Embedder]:
    embedder = embedder_for(settings)
    return IndexStore(settings.index_dir), embedder


def test_chunks_are_deterministic_sentences_with_offsets() -> None:
    corpus = load_corpus(REAL_CORPUS)
    config = ChunkingConfig()
    first, second = chunk_corpus(corpus, config), chunk_corpus(corpus, config)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    paragraphs: dict[tuple[str, int | None], str] = {
        (d.id, p.number): p.text for d in corpus.documents for p in d.paragraphs
    }
    for chunk in first:
        if chunk.kind == "article":
            assert paragraphs[(chunk.doc, chunk.paragraph)][chunk.start : chunk.end] == chunk.text
            if chunk.language == "en":
                assert chunk.canonical is not None and chunk.canonical.startswith("article-fr:")
        else:
            assert chunk.verdict and chunk.claim
    # A note's claim is attached to the article sentence it quotes, in both languages.
    launch = [c for c in first if "fc-13-launch-date" in c.notes and c.kind == "article"]
    assert {c.language for c in launch} == {"fr", "en"}


def test_multi_sentence_chunks_respect_limits() -> None:
    corpus = load_corpus(REAL_CORPUS)
    chunks = chunk_corpus(corpus, ChunkingConfig(max_sentences=3, max_chars=250))
    article = [c for c in chunks if c.kind == "article"]
    assert all(1 <= len(c.sentences) <= 3 for c in article)
    assert all(len(c.text) <= 250 or len(c.sentences) == 1 for c in article)
    assert any(len(c.sentences) > 1 for c in article)


def test_build_persists_a_manifest_and_reloads(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    store, embedder = _open(settings)
    built = build_from_corpus(settings, store, embedder)
    link = settings.index_dir / "current"
    assert link.is_symlink() and not os.path.isabs(os.readlink(link))
    manifest = json.loads((built.path / "manifest.json").read_text())
    for key in (
        "version",
        "model",
        "dimension",
        "corpus_hash",
        "chunking",
        "libraries",
        "built_at",
        "files",
    ):
        assert key in manifest
    assert manifest["dimension"] == 384
    assert manifest["chunk_count"] == len(built.chunks)
    assert set(manifest["libraries"]) >= {"faiss-cpu", "bm25s", "sentence-transformers", "torch"}
    loaded = store.load()
    assert loaded.version == built.version
    assert [c.id for c in loaded.chunks] == [c.id for c in built.chunks]
    assert not list(settings.index_dir.glob("tmp-*"))


def test_old_builds_are_collected(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    store, embedder = _open(settings)
    versions = [build_from_corpus(settings, store, embedder).version for _ in range(5)]
    kept = sorted(p.name for p in (settings.index_dir / "builds").iterdir())
    assert len(kept) == 3 and versions[-1] in kept
    assert store.published_version() == versions[-1]


def test_missing_index_is_built(tmp_path: Path, corpus_copy: Path) -> None:
    settings = Settings.from_mapping(
        {"CORPUS_DIR": str(corpus_copy), "INDEX_DIR": str(tmp_path / "fresh")}
    )
    store, embedder = _open(settings)
    with pytest.raises(IndexMissing):
        store.load()
    index = load_or_build(settings, store, embedder)
    assert index.chunks and store.published_version() == index.version


@pytest.mark.parametrize(
    ("edit", "rebuilt", "logged"),
    [
        (lambda text: text + "\nUne précision de plus.\n", True, ["stale (the corpus changed)"]),
        (
            lambda text: "no front matter at all\n",
            False,
            ["still serving index", "missing front matter"],
        ),
    ],
    ids=["edited-note-rebuilds", "broken-note-keeps-serving"],
)
def test_a_changed_corpus_makes_the_index_stale(
    make_settings: Callable[..., Settings],
    corpus_copy: Path,
    caplog: pytest.LogCaptureFixture,
    edit: Callable[[str], str],
    rebuilt: bool,
    logged: list[str],
) -> None:
    settings = make_settings()
    store, embedder = _open(settings)
    before = store.load().version
    note = sorted((corpus_copy / "factchecks").glob("*.md"))[0]
    note.write_text(edit(note.read_text(encoding="utf-8")), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        index = load_or_build(settings, store, embedder)
    assert (index.version != before) == rebuilt
    assert all(line in caplog.text for line in logged)


def test_changed_chunking_makes_the_index_stale(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(CHUNK_MAX_SENTENCES="2")
    store, embedder = _open(settings)
    old = store.load()
    assert store.staleness(old.manifest, settings.embedding_model, chunking_config(settings), None)
    index = load_or_build(settings, store, embedder)
    assert index.manifest["chunking"]["max_sentences"] == 2


@pytest.mark.parametrize("victim", ["vectors.npy", "faiss.index", "chunks.json", "manifest.json"])
def test_corrupted_file_is_detected_and_rebuilt(
    make_settings: Callable[..., Settings], victim: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    store, embedder = _open(settings)
    current = store.current_path()
    assert current is not None
    target = current / victim
    target.write_bytes(target.read_bytes()[: max(1, target.stat().st_size // 2)] + b"garbage")
    with pytest.raises(IndexCorrupt) as info:
        store.load()
    assert victim in str(info.value)
    with caplog.at_level(logging.WARNING):
        index = load_or_build(settings, store, embedder)
    assert index.path != current
    assert victim in caplog.text and f"built index {index.version}" in caplog.text


def test_corrupted_index_and_broken_corpus_give_one_clear_line(
    make_settings: Callable[..., Settings], corpus_copy: Path
) -> None:
    settings = make_settings()
    store, embedder = _open(settings)
    current = store.current_path()
    assert current is not None
    (current / "vectors.npy").write_bytes(b"not numpy")
    (corpus_copy / "article.en.md").write_text("---\nid: x\n", encoding="utf-8")
    with pytest.raises(IndexUnavailable) as info:
        load_or_build(settings, store, embedder)
    message = str(info.value)
    assert "\n" not in message
    assert "vectors.npy" in message and "factbot corpus check" in message


class _Counting:
    """The real embedder, counting the texts it is asked to encode."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts: list[str] = []
        self.name = inner.name
        self.dimension = inner.dimension

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        self.texts.extend(texts)
        return self.inner.encode(texts, batch_size=batch_size)


def test_a_rebuild_encodes_only_the_texts_that_changed(
    make_settings: Callable[..., Settings], corpus_copy: Path
) -> None:
    """A note changed from chat must not re-encode the whole corpus; the vectors taken from the
    previous build are the ones a fresh build computes."""
    settings = make_settings()
    store, embedder = _open(settings)
    before = load_or_build(settings, store, embedder)
    note = corpus_copy / "factchecks" / "16-svom.md"
    note.write_text(
        note.read_text(encoding="utf-8").replace("## English\n\n", "## English\n\nZebulon. "),
        encoding="utf-8",
    )
    counting = _Counting(embedder)
    after = build_from_corpus(settings, store, counting, previous=before)
    assert counting.texts, "the changed note must be encoded"
    assert len(counting.texts) < len(after.chunks) // 4
    assert any("Zebulon" in t for t in counting.texts)
    fresh = build_from_corpus(settings, store, embedder)
    cosines = np.sum(after.vectors * fresh.vectors, axis=1)
    assert cosines.min() > 0.9999
    assert np.sum(after.note_vectors * fresh.note_vectors, axis=1).min() > 0.9999
    assert np.sum(after.background * fresh.background, axis=1).min() > 0.9999
