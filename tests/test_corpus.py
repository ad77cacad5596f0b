"""The shipped corpus is valid, and every kind of defect gets a message naming its file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from index.corpus import VERDICTS, CorpusInvalid, check_corpus, load_corpus
from tests.conftest import REAL_CORPUS, ROOT


def test_shipped_corpus_is_valid() -> None:
    corpus = load_corpus(REAL_CORPUS)
    assert corpus.article.language == "fr"
    assert set(corpus.translations) == {"en"}
    assert len(corpus.factchecks) >= 15
    for note in corpus.factchecks:
        assert note.verdict in VERDICTS
        assert note.sources, note.path
        assert all(
            s.url.startswith("https://") or s.url.startswith("http://") for s in note.sources
        )
        assert note.sections["fr"] and note.sections["en"], note.path
        assert note.claim_span is not None, note.path


def test_article_is_verbatim() -> None:
    corpus = load_corpus(REAL_CORPUS)
    paragraphs = [p.text for p in corpus.article.paragraphs]
    assert paragraphs[0].startswith("Conquête spatiale: La France s'associe")
    assert paragraphs[-1].endswith("comme l'on fait d'autres astronautes européens avant lui.")
    shared = ROOT.parent / "shared" / "article.txt"
    if shared.is_file():  # the source text sits beside the repository in CI and on dev machines
        lines = [line for line in shared.read_text(encoding="utf-8").split("\n") if line.strip()]
        assert paragraphs == lines


def test_translation_is_sentence_aligned() -> None:
    corpus = load_corpus(REAL_CORPUS)
    english = corpus.translations["en"]
    assert len(english.paragraphs) == len(corpus.article.paragraphs)
    for fr, en in zip(corpus.article.paragraphs, english.paragraphs, strict=True):
        assert len(fr.sentences) == len(en.sentences), fr.number


def test_corpus_check_command_passes_on_shipped_corpus() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "corpus", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "corpus OK" in out.stdout


def _note(corpus: Path) -> Path:
    return sorted((corpus / "factchecks").glob("*.md"))[0]


def _problems(corpus: Path) -> list[str]:
    with pytest.raises(CorpusInvalid) as info:
        load_corpus(corpus)
    return [str(p) for p in info.value.problems]


def test_missing_front_matter(corpus_copy: Path) -> None:
    note = _note(corpus_copy)
    text = note.read_text(encoding="utf-8")
    note.write_text(text.split("---", 2)[2], encoding="utf-8")
    problems = _problems(corpus_copy)
    assert any(str(note) + ":1: missing front matter" in p for p in problems), problems


def test_malformed_front_matter_names_the_line(corpus_copy: Path) -> None:
    note = _note(corpus_copy)
    lines = note.read_text(encoding="utf-8").split("\n")
    lines.insert(2, "verdict: [unclosed")
    note.write_text("\n".join(lines), encoding="utf-8")
    problems = _problems(corpus_copy)
    assert any(
        re.match(re.escape(str(note)) + r":\d+: malformed front matter", p) for p in problems
    ), problems


def test_unknown_verdict(corpus_copy: Path) -> None:
    note = _note(corpus_copy)
    text = re.sub(r"(?m)^verdict: .*$", "verdict: kinda-true", note.read_text(encoding="utf-8"))
    note.write_text(text, encoding="utf-8")
    problems = _problems(corpus_copy)
    line = next(i for i, ln in enumerate(text.split("\n"), 1) if ln.startswith("verdict:"))
    assert any(p.startswith(f"{note}:{line}: unknown verdict 'kinda-true'") for p in problems), (
        problems
    )


def test_claim_not_in_article(corpus_copy: Path) -> None:
    note = _note(corpus_copy)
    text = re.sub(
        r"(?m)^claim: .*$",
        'claim: "La France a marché sur Mars en 1969"',
        note.read_text(encoding="utf-8"),
    )
    note.write_text(text, encoding="utf-8")
    problems = _problems(corpus_copy)
    assert any(str(note) in p and "claim not found verbatim" in p for p in problems), problems


def test_missing_language_section(corpus_copy: Path) -> None:
    note = _note(corpus_copy)
    text = note.read_text(encoding="utf-8")
    note.write_text(text.split("## English")[0], encoding="utf-8")
    problems = _problems(corpus_copy)
    assert any(str(note) in p and "'## English'" in p for p in problems), problems


def test_misaligned_paragraphs(corpus_copy: Path) -> None:
    english = corpus_copy / "article.en.md"
    english.write_text(
        english.read_text(encoding="utf-8") + "\nAn extra paragraph.\n", encoding="utf-8"
    )
    problems = _problems(corpus_copy)
    assert any(
        str(english) in p and "paragraphs misaligned: 9 paragraphs here, 8" in p for p in problems
    ), problems


def test_misaligned_sentences(corpus_copy: Path) -> None:
    english = corpus_copy / "article.en.md"
    text = english.read_text(encoding="utf-8")
    english.write_text(text.rstrip("\n") + " One sentence too many.\n", encoding="utf-8")
    problems = _problems(corpus_copy)
    assert any(
        str(english) in p and "paragraph 7:" in p and "sentence-aligned" in p for p in problems
    ), problems


def test_source_without_url(corpus_copy: Path) -> None:
    note = _note(corpus_copy)
    text = re.sub(r"(?m)^(\s+)url: .*$", r"\1url: ", note.read_text(encoding="utf-8"), count=1)
    note.write_text(text, encoding="utf-8")
    problems = _problems(corpus_copy)
    assert any(str(note) in p and "has no URL" in p for p in problems), problems


def test_check_corpus_lists_every_problem_and_cli_exits_1(corpus_copy: Path) -> None:
    notes = sorted((corpus_copy / "factchecks").glob("*.md"))
    for note in notes[:2]:
        text = re.sub(r"(?m)^verdict: .*$", "verdict: nope", note.read_text(encoding="utf-8"))
        note.write_text(text, encoding="utf-8")
    assert len(check_corpus(corpus_copy)) == 2
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "corpus", "check"],
        cwd=ROOT,
        env={"CORPUS_DIR": str(corpus_copy), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1
    assert len(out.stdout.strip().splitlines()) == 2
    assert "Traceback" not in out.stdout + out.stderr


def test_not_utf8_is_reported(corpus_copy: Path) -> None:
    note = _note(corpus_copy)
    note.write_bytes(b"\xff\xfe\x00garbage")
    problems = _problems(corpus_copy)
    assert any(str(note) in p and "not UTF-8" in p for p in problems), problems
