"""The lead: the one verbatim sentence that best answers the question, shown first.

Unit tests of the choice on hand-built candidates, then the real engine (real model, FAISS,
BM25) on the questions the issue names and on every question of the three evaluation sets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.answer import Answer, Language
from bot.answering.compose import render_text
from bot.answering.engine import Engine
from bot.answering.evaluation import load_questions, prepared_in_thread
from bot.answering.lead import (
    CLAIM_TYPE_BONUS,
    RETRIEVAL_WEIGHT,
    Candidate,
    LeadIndex,
    QuestionScorer,
    asks_article,
    asks_truth,
    choose_lead,
)
from bot.serving.service import FactBotService
from index.chunking import ChunkingConfig, chunk_corpus, note_sentences
from index.corpus import load_corpus
from index.embeddings import Vectors
from tests.conftest import REAL_CORPUS

DATA = Path(__file__).parent / "data"
CORPUS_FILES = [p.read_text(encoding="utf-8") for p in sorted(REAL_CORPUS.rglob("*.md"))]


def quote(
    score: float, relevance: float | None = None, source: str = "article-fr:p5:s1-1"
) -> Candidate:
    return Candidate("Une phrase de l'article.", source, "article", score, relevance or score)


def note(score: float, relevance: float | None = None, source: str = "fc-13") -> Candidate:
    return Candidate("Ce qui est vrai.", source, "factcheck", score, relevance or score)


# ---------------------------------------------------------------------- the choice, by hand


def test_the_better_answer_leads() -> None:
    assert choose_lead("Quand ?", [quote(0.9)], [note(0.8)]) == quote(0.9)
    assert choose_lead("Quand ?", [quote(0.8)], [note(0.9)]) == note(0.9)
    assert choose_lead("Quand ?", [], [note(0.1)]) == note(0.1)
    assert choose_lead("Quand ?", [quote(0.1)], []) == quote(0.1)
    assert choose_lead("Quand ?", [], []) is None


def test_a_fact_check_question_leads_with_the_note_unless_a_quote_is_far_better() -> None:
    question = "did it really launch in 2023?"
    assert asks_truth(question) and asks_truth("C'était vraiment la première fois ?")
    assert choose_lead(question, [quote(0.9)], [note(0.7)]) == note(0.7)
    assert choose_lead(question, [quote(1.5)], [note(0.7)]) == quote(1.5)


def test_a_question_about_what_the_article_says_leads_with_the_article() -> None:
    question = "Selon l'article, combien de kilos devaient partir ?"
    assert asks_article(question) and asks_article("What does the article claim?")
    assert not asks_article("When did Chang'e 6 launch?")
    assert choose_lead(question, [quote(0.5)], [note(0.9)]) == quote(0.5)


def test_which_quote_and_which_note_go_by_relevance_then_the_scores_decide() -> None:
    """Relevance (the retrieval's view of the whole unit) picks the quote and the note; how
    well each sentence answers decides between them."""
    strong = note(0.8, relevance=2.0, source="fc-a")
    weak = note(0.95, relevance=1.0, source="fc-b")
    assert choose_lead("Quand ?", [quote(0.9)], [weak, strong]) == quote(0.9)
    assert choose_lead("Quand ?", [quote(0.7)], [weak, strong]) == strong


def test_note_sentences_are_exact_and_aligned_across_languages() -> None:
    corpus = load_corpus(REAL_CORPUS)
    chunks = chunk_corpus(corpus, ChunkingConfig())
    sentences = note_sentences(chunks)
    sections = {(n.id, lang): text for n in corpus.factchecks for lang, text in n.sections.items()}
    assert {s.note for s in sentences} == {n.id for n in corpus.factchecks}
    for s in sentences:
        assert sections[(s.note, s.language)][s.start : s.end] == s.text
        assert s.text == s.text.strip() and "\n\n" not in s.text
        if s.aligned >= 0:
            other = sentences[s.aligned]
            assert other.note == s.note and other.language != s.language
            assert sentences[other.aligned] == s
    # The real notes are written sentence by sentence in both languages.
    assert all(s.aligned >= 0 for s in sentences)


# ---------------------------------------------------------------------- the real engine


def test_a_fact_check_question_leads_with_what_is_true(service: FactBotService) -> None:
    answer = service.engine.answer("Did Chang'e 6 really launch in 2023?")
    assert answer.lead is not None and answer.lead.kind == "factcheck"
    assert answer.lead.source == "fc-13-launch-date"
    assert "3 May 2024" in answer.lead.text
    assert answer.factchecks[0].id == answer.lead.source  # the lead's note comes first
    assert answer.lead.label == answer.factchecks[0].label


def test_a_question_the_quoted_mistake_answers_leads_with_its_correction(
    service: FactBotService,
) -> None:
    """The 15 kg sentence is quoted (it says "en 2023"); the note correcting it answers."""
    answer = service.engine.answer("Quand part la mission Chang'e 6 ?")
    assert any("15 kg" in s.quote for s in answer.sources if s.kind == "article")
    assert answer.lead is not None and answer.lead.kind == "factcheck"
    assert answer.lead.source == "fc-13-launch-date"
    assert "3 mai 2024" in answer.lead.text and "15 kg" not in answer.lead.text
    shown = [f.id for f in answer.factchecks]
    assert shown[0] == "fc-13-launch-date"
    # Only what bears on the question: the notes correcting the quote, nothing unrelated.
    assert "fc-04-robotic-export" not in shown
    assert {s.doc for s in answer.sources if s.kind == "factcheck"} <= set(shown)


@pytest.mark.parametrize(
    ("question", "words"),
    [
        ("Quel accord vient d'être conclu entre Paris et la Chine ?", "signer un accord"),
        ("What did the article say France wanted to do with the United States?", "United States"),
    ],
)
def test_an_article_question_leads_with_the_article_sentence(
    service: FactBotService, question: str, words: str
) -> None:
    answer = service.engine.answer(question)
    assert answer.lead is not None and answer.lead.kind == "article"
    assert words in answer.lead.text
    quoted = next(s for s in answer.sources if s.id == answer.lead.source)
    assert answer.lead.paragraph == quoted.paragraph
    # An English answer leads with the aligned English sentence, a French one with the original.
    assert answer.lead.text == (quoted.translation if answer.language == "en" else quoted.quote)


def test_a_refusal_has_no_lead(service: FactBotService) -> None:
    answer = service.engine.answer("What is the capital of Australia?")
    assert answer.refused and answer.lead is None
    assert answer.to_json()["lead"] is None


def _corpus_holds(text: str) -> bool:
    return any(text in f for f in CORPUS_FILES)


def test_every_lead_of_the_three_sets_is_verbatim_corpus_text(service: FactBotService) -> None:
    engine = service.engine
    questions = [
        q
        for name in ("questions", "heldout", "chat")
        for q in load_questions(DATA / f"{name}.jsonl")
    ]
    answers: list[Answer] = engine.answer_many([prepared_in_thread(engine, q) for q in questions])
    leads = 0
    for answer in answers:
        if answer.is_conversation:  # issue 22: "t'es un bot ?" gets help, with no lead
            assert answer.lead is None and not answer.refused
            continue
        assert (answer.lead is None) == answer.refused
        if answer.lead is None:
            continue
        leads += 1
        if answer.lead.kind == "about":  # built from the front matter, by contract
            assert "https://dexplo.fr/" in answer.lead.text
            continue
        assert _corpus_holds(answer.lead.text), answer.lead
        if answer.lead.kind == "summary":
            continue
        sources = {s.id for s in answer.sources} | {f.id for f in answer.factchecks}
        assert answer.lead.source in sources
        if answer.lead.kind == "factcheck":
            assert answer.factchecks[0].id == answer.lead.source
    assert leads >= 150  # most of the 250 questions are answered: the check ran on many


# How far the array scores may be from the per-sentence ones: a few float32 ulps of a cosine.
# Equal on the machines measured, but another CPU's BLAS may sum a stacked product in another
# order than a lone one.
SCORE_TOLERANCE = 1e-5


def _each_on_its_own(
    leads: LeadIndex, scorer: QuestionScorer, vector: Vectors, note: str, language: Language
) -> tuple[Candidate | None, dict[str, float]]:
    """A note's best sentence scored one sentence at a time, as `best_sentences` did before it
    scored them all with array operations (the reference it must match), and every sentence's
    score."""
    languages = leads.languages.get(note)
    if not languages:
        return None, {}
    rows = leads.rows[(note, language if language in languages else languages[0])]
    cosines = (leads.vectors[rows] @ vector).tolist()
    claim = leads.claims.get(note, "")
    about = scorer.wanted is not None and scorer.wanted.search(claim) is not None
    best: Candidate | None = None
    scores: dict[str, float] = {}
    for row, cosine in zip(rows, cosines, strict=True):
        s = leads.sentences[row]
        words, text, cos = leads.words[row], s.text, float(cosine)
        if s.aligned >= 0:
            cos = max(cos, float(leads.vectors[s.aligned] @ vector))
            words = words | leads.words[s.aligned]
            text = f"{text}\n{leads.sentences[s.aligned].text}"
        score = scorer.score(cos, words, text) + (CLAIM_TYPE_BONUS if about else 0.0)
        scores[s.text] = max(score, scores.get(s.text, score))
        if best is None or score > best.score:
            best = Candidate(s.text, note, "factcheck", score, score)
    return best, scores


def _every_question_read(
    engine: Engine,
) -> Iterator[tuple[str, Vectors, QuestionScorer]]:
    """Every question of the three sets, read in its thread, embedded, retrieved and scored:
    the question as read, its vector and its scorer."""
    questions = [
        q
        for name in ("questions", "heldout", "chat")
        for q in load_questions(DATA / f"{name}.jsonl")
    ]
    items = [prepared_in_thread(engine, q) for q in questions]
    vectors = engine.embedder.encode_queries([p.embedded for p in items])
    found = engine.retriever.search_many([p.question for p in items], vectors)
    for p, f, vector in zip(items, found, vectors, strict=True):
        yield (
            p.question,
            vector,
            QuestionScorer.of(p.question, f.words, engine.retriever.idf, f.wanted),
        )


def test_scoring_every_note_sentence_at_once_matches_scoring_each_on_its_own(
    service: FactBotService,
) -> None:
    """The lead's note scores, computed with array operations, are the per-sentence ones (same
    sentence, same score to a few ulps; a sentence tied with the best to that precision may be
    picked instead): on every question of the three sets, both languages."""
    engine = service.engine
    notes = {n: 0.01 * i for i, n in enumerate(engine.index.notes)}
    compared = same_sentence = 0
    for question, vector, scorer in _every_question_read(engine):
        for language in ("fr", "en"):
            got = engine.leads.best_sentences(scorer, vector, notes, language)
            for note, fused in notes.items():
                want, scores = _each_on_its_own(engine.leads, scorer, vector, note, language)
                has = got.get(note)
                if want is None:
                    assert has is None, (question, note)
                    continue
                assert has is not None, (question, note)
                why = (question, note, has, want)
                assert (has.source, has.kind) == (note, "factcheck"), why
                assert has.score == pytest.approx(want.score, abs=SCORE_TOLERANCE), why
                assert has.relevance == pytest.approx(
                    want.score + RETRIEVAL_WEIGHT * fused, abs=SCORE_TOLERANCE
                ), why
                # The sentence picked is the best one, or one tied with it.
                assert scores[has.text] >= want.score - SCORE_TOLERANCE, why
                same_sentence += has.text == want.text
                compared += 1
    assert compared >= 250 * 2 * 17
    assert same_sentence >= 0.99 * compared  # ties are rare: nearly always the same sentence


def test_an_answers_relevance_is_best_sentences_own(service: FactBotService) -> None:
    """What a composed answer reads (`LeadIndex.relevance`: every note's relevance and the most
    relevant note's sentence) is what `best_sentences` says, on every question of the three
    sets, both languages."""
    engine = service.engine
    notes = {n: 0.01 * i for i, n in enumerate(engine.index.notes)}
    for _, vector, scorer in _every_question_read(engine):
        for language in ("fr", "en"):
            every = engine.leads.best_sentences(scorer, vector, notes, language)
            relevance, best = engine.leads.relevance(scorer, vector, notes, language)
            assert relevance == {n: c.relevance for n, c in every.items()}
            assert best == max(every.values(), key=lambda c: c.relevance)


def test_an_answers_text_is_render_text_of_its_parts(service: FactBotService) -> None:
    """A fact answer's plain text, put together from lines made once per sentence and note, is
    `render_text` of its sources, notes and lead: on every question of the three sets, asked
    twice (the second time from those lines)."""
    engine = service.engine
    questions = [
        q
        for name in ("questions", "heldout", "chat")
        for q in load_questions(DATA / f"{name}.jsonl")
    ]
    checked = 0
    for _ in range(2):
        for answer in engine.answer_many([prepared_in_thread(engine, q) for q in questions]):
            for part in answer.parts or (answer,):
                if part.act != "fact" or part.refused:
                    continue
                rendered = render_text(part.language, part.sources, part.factchecks, part.lead)
                assert part.text == rendered, part.question
                checked += 1
    assert checked >= 300
