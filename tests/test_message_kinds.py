"""Telling what a message is (issue 22): the real model on the first-contact set and the question
sets, and units for the rules."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from benchmarks import message_kinds as message_kinds_bench
from bot.answering.chattext import clean_chat, strip_markup
from bot.answering.engine import Engine
from bot.answering.kind_evaluation import (
    classify_messages,
    load_first_contact,
    message_kinds_for,
    not_fact,
    right_kind,
)
from bot.answering.message_kinds import (
    _VOCABULARIES,
    KINDS,
    Exemplar,
    KindExemplars,
    MessageKinds,
    _only,
    _split_and,
    _split_marks,
    _words,
    classify,
    load_exemplars,
    rule_kind,
    split_questions,
)
from bot.settings import Settings
from tests.conftest import REAL_CORPUS, ROOT, base_env

DATA = ROOT / "tests" / "data"
# Stated rates (measured: 72/73 dev lines right; 0, 0 and 1 in-scope questions not read as fact).
DEV_RATE = 0.9
PER_KIND_RATE = 0.75
# chat.jsonl's c025 ("c'est quoi le titre de l'artcile ?") is in scope there, and is an `about`
# question in issue 22's sense: the article card answers it from the front matter.
NOT_FACT_ALLOWED = {"questions.jsonl": 0, "heldout.jsonl": 0, "chat.jsonl": 1}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, prebuilt_index: Path) -> Iterator[Engine]:
    root = tmp_path_factory.mktemp("kinds")
    shutil.copytree(REAL_CORPUS, root / "corpus")
    shutil.copytree(prebuilt_index, root / "index", symlinks=True)
    yield Engine.open(Settings.from_mapping(base_env(root / "corpus", root / "index")))


@pytest.fixture(scope="module")
def kinds(engine: Engine) -> MessageKinds:
    return message_kinds_for(engine)


def test_dev_lines_of_the_first_contact_set_classify_right(
    engine: Engine, kinds: MessageKinds
) -> None:
    rows = [r for r in load_first_contact(DATA / "first_contact.jsonl") if r.split == "dev"]
    assert {r.kind for r in rows} == set(KINDS)
    got = classify_messages(engine, kinds, [r.message for r in rows])
    right = [right_kind(r, k) for r, k in zip(rows, got, strict=True)]
    outcome = zip(rows, got, right, strict=True)
    misses = [(r.id, r.kind, k.kind, r.message) for r, k, ok in outcome if not ok]
    assert sum(right) >= DEV_RATE * len(rows), misses
    for kind in KINDS:
        of_kind = [ok for r, ok in zip(rows, right, strict=True) if r.kind == kind]
        assert sum(of_kind) >= PER_KIND_RATE * len(of_kind), (kind, misses)


@pytest.mark.parametrize("name", sorted(NOT_FACT_ALLOWED))
def test_in_scope_questions_are_read_as_fact_questions(
    engine: Engine, kinds: MessageKinds, name: str
) -> None:
    report = not_fact(engine, kinds, DATA / name)
    assert report["in_scope"] > 30
    assert report["not_fact"] <= NOT_FACT_ALLOWED[name], report["rows"]


def test_a_multi_message_gives_its_parts_in_order(engine: Engine, kinds: MessageKinds) -> None:
    message = "qui a signe l'accord et combien de kg vont partir ?"
    (got,) = classify_messages(engine, kinds, [message])
    assert got.kind == "multi" and got.is_fact
    assert got.parts == ("qui a signe l'accord", "combien de kg vont partir ?")


# ---------------------------------------------------------------------------- rules (units)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("👍", "thanks"),
        ("🙏🙏", "thanks"),
        ("👋", "greeting"),
        ("<@U07FB0T2K9Q> 👍", "thanks"),
        ("??", "help"),
        ("ok merci", "thanks"),
        ("Merci beaucoup !", "thanks"),
        ("thx!", "thanks"),
        ("hello bot!", "greeting"),
        ("bonsoir a tous", "greeting"),
        ("help", "help"),
        ("tl;dr", "gist"),
        ("TLDR stp", "gist"),
    ],
)
def test_rules_decide_what_they_are_sure_of(message: str, kind: str) -> None:
    got = rule_kind(message)
    assert got is not None and got.kind == kind and got.confidence == 1.0


@pytest.mark.parametrize(
    "message",
    ["combien de kg ?", "ok mais pk 15 kg ?", "merci de me dire qui a signe", "hi, who is pesquet"],
)
def test_rules_leave_questions_alone(message: str) -> None:
    assert rule_kind(message) is None


@pytest.mark.parametrize(
    ("message", "parts"),
    [
        ("c quoi cardiospace ? et svom ?", ("c'est quoi cardiospace ?", "et svom ?")),
        (
            "how much do the experiments weigh and which mission carries them?",
            ("how much do the experiments weigh", "which mission carries them?"),
        ),
        (
            "la station c pour quand? qui l'a annoncee?",
            ("la station c'est pour quand?", "qui l'a annoncee?"),
        ),
    ],
)
def test_several_questions_are_split(message: str, parts: tuple[str, ...]) -> None:
    assert split_questions(message) == parts


@pytest.mark.parametrize(
    "message",
    [
        "la chine va faire tte sa conquete spatiale avec la france desormais ?? serieux",
        "what is svom and cardiospace?",
        "paris et pekin ont signe quoi ?",
        "combien de kg ?",
        "quoi ? et ?",
    ],
)
def test_one_question_is_not_split(message: str) -> None:
    assert split_questions(message) == ()


def _toy(vectors: dict[str, list[float]]) -> KindExemplars:
    """Exemplars whose vectors are given (unit tests of the decision, no model)."""
    items = tuple(Exemplar("en", k, k) for k in vectors)  # type: ignore[arg-type]
    table = {k: np.asarray(v, dtype=np.float32) for k, v in vectors.items()}
    return MessageKinds(
        lambda texts: np.stack([table[t] for t in texts]), lambda t, _l: t, items
    ).exemplars


def test_a_kind_must_win_clearly_or_the_message_is_a_fact_question() -> None:
    exemplars = _toy({"fact": [1, 0, 0], "gist": [0, 1, 0], "feedback": [0, 0, 1]})
    near_gist = np.asarray([0.1, 1.0, 0.0], dtype=np.float32)
    between = np.asarray([1.0, 1.0, 0.0], dtype=np.float32)
    assert classify("de quoi ca parle", near_gist, exemplars).kind == "gist"
    unsure = classify("de quoi ca parle", between, exemplars)
    assert unsure.kind == "fact" and unsure.is_fact
    # Feedback is said; asked, it is a question about what the article gets wrong.
    said = np.asarray([0.0, 0.0, 1.0], dtype=np.float32)
    assert classify("c'est faux", said, exemplars).kind == "feedback"
    assert classify("qu'est-ce qui est faux ?", said, exemplars).kind == "reliability"


def test_an_exemplar_file_with_a_bad_line_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "message_kinds.fr.tsv").write_text("gist\tresume\n", encoding="utf-8")
    (tmp_path / "message_kinds.en.tsv").write_text("gossip\twhat's up\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"message_kinds\.en\.tsv:1"):
        load_exemplars(tmp_path)


def test_the_shipped_exemplars_cover_every_kind_but_multi_in_both_languages() -> None:
    exemplars = load_exemplars()
    for language in ("fr", "en"):
        assert {e.kind for e in exemplars if e.language == language} == set(KINDS) - {"multi"}


def test_the_cost_benchmark_returns_well_formed_numbers(engine: Engine) -> None:
    result = message_kinds_bench.measure(engine, repeats=1)
    assert result["messages"] > 300 and result["exemplars"] > 200
    for key in ("classify_median_ms", "classify_p95_ms", "exemplar_matrix_once_ms"):
        assert isinstance(result[key], float) and result[key] >= 0


def _split_questions_in_full(text: str) -> tuple[str, ...]:
    """`split_questions` as first written: every message cut on its marks and its "et"/"and"."""
    cleaned = clean_chat(text) or text
    pieces: list[str] = []
    for chunk in _split_marks(cleaned):
        pieces.extend(_split_and(chunk))
    parts = [p.strip(" ,;") for p in pieces if p.strip(" ,;")]
    if len(parts) < 2 or any(len(_words(p)) < 2 for p in parts):
        return ()
    return tuple(parts)


_PIECES = (
    *"qui quand combien what when and et AND Et ? ?? , ; salut merci thanks ok the bot".split(),
    *("tl;dr", "help", "aide", "svom", "chang'e 6", "kg", "👍", "👋", " ", "  ", "\t", "\n"),
    *("c quoi", "qd", "et sinon", "and how", "?\u00a0", "\u2003", "lancé", "vraiment ?"),
)


def test_the_fast_paths_of_the_rules_change_no_result() -> None:
    """A message with a word no rule accepts is rejected by one set operation, and one with no
    inner "?" and no "et"/"and" is not split: the same kinds and parts as before."""
    rng = random.Random(5)
    for _ in range(20_000):
        text = " ".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 8)))
        assert split_questions(text) == _split_questions_in_full(text), text
        words = _words(strip_markup(text))
        if rule_kind(text) is None:
            assert not any(_only(words, vocabulary) for _, vocabulary in _VOCABULARIES), text
