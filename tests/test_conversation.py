"""Thread context (bot/answering/conversation.py): follow-ups read through the thread, memory bounds."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.answering.chattext import clean_chat
from bot.answering.conversation import ConversationMemory, Turn, contextualize, is_elliptical
from bot.answering.engine import Engine
from bot.answering.focus import CorpusFocus
from bot.answering.lexicon import DERIVED, load_lexicon
from bot.settings import Settings
from index.store import IndexStore


@pytest.fixture(scope="module")
def focus(prebuilt_index: Path) -> CorpusFocus:
    index = IndexStore(prebuilt_index).load()
    return CorpusFocus.from_index(index, load_lexicon(prebuilt_index / DERIVED))


def read(focus: CorpusFocus, message: str, *history: str) -> tuple[str, tuple[str, ...]]:
    turns = [Turn(focus.correct(clean_chat(h))) for h in history]
    ctx = contextualize(focus.correct(clean_chat(message)), turns, focus)
    assert ctx.used_history == bool(ctx.carried)
    return ctx.text, ctx.carried


@pytest.mark.parametrize(
    ("message", "history", "carried"),
    [
        ("et elle part quand ?", ("c quoi chang'e 6 ?",), "Chang'e 6"),
        ("launched when tho?", ("svom c'est quoi",), "SVOM"),
        ("il pesait cb ?", ("DORN ca mesurait quoi ?",), "DORN"),
        ("was he ever on board?", ("what does the article say about pesquet?",), "Thomas Pesquet"),
        ("and what did it carry? 🤔", ("tiangong 2 c'etait quoi",), "Tiangong-2"),
        ("et depuis ou ?", ("svom ?", "lance quand ?"), "SVOM"),
        ("since when?", ("<@U1> who's the cnes president?",), "CNES"),
    ],
)
def test_elliptical_follow_ups_carry_the_thread_entity(
    focus: CorpusFocus, message: str, history: tuple[str, ...], carried: str
) -> None:
    text, kept = read(focus, message, *history)
    assert carried in kept
    assert text.endswith(" ".join(kept))


@pytest.mark.parametrize(
    ("message", "history"),
    [
        ("and what about svom?", ("quand part chang'e 6 ?",)),
        ("et chang'e 8 ?", ("quand part chang'e 6 ?",)),
        ("who is thomas pesquet", ("c quoi svom",)),
        ("autre chose : la pollution a baisse de cb ?", ("c quoi svom",)),
        ("unrelated but what does the article say about the climate?", ("svom launched when?",)),
        ("et elle part quand ?", ()),
    ],
)
def test_a_question_with_its_own_subject_stands_alone(
    focus: CorpusFocus, message: str, history: tuple[str, ...]
) -> None:
    text, carried = read(focus, message, *history)
    assert carried == ()
    assert text == focus.correct(clean_chat(message))


def test_an_out_of_scope_entity_stays_out_of_scope(focus: CorpusFocus) -> None:
    text, carried = read(focus, "et chang'e 8 ?", "quand part chang'e 6 ?")
    miss = focus.check(text)
    assert carried == () and miss is not None and miss.subject == "Chang'e 8"
    text, _ = read(focus, "how old is he btw?", "what does the article say about pesquet?")
    age = focus.check(text)
    assert age is not None and age.fact == "age" and age.subject == "Thomas Pesquet"


def test_the_answer_topic_serves_when_the_question_named_nothing(focus: CorpusFocus) -> None:
    turns = [Turn("c'est quoi le truc francais dans l'espace ?", answer_topic=("Cardiospace",))]
    ctx = contextualize("et ca sert a quoi ?", turns, focus)
    assert ctx.carried == ("Cardiospace",)


def test_topic_words_serve_when_no_entity_was_named() -> None:
    ctx = contextualize("where does that number come from?", [Turn("how much did pollution drop?")])
    assert ctx.used_history and "pollution" in ctx.carried


def test_ellipsis() -> None:
    assert is_elliptical("et ca detecte quoi au juste ?")
    assert is_elliptical("what rocket?")
    assert is_elliptical("and which year was it supposed to fly?")
    assert not is_elliptical("what does the article claim about pollution in chinese cities?")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_memory_keeps_the_last_turns_oldest_first() -> None:
    memory = ConversationMemory(max_turns=2, ttl_seconds=60)
    for q in ("un", "deux", "trois"):
        memory.record("thread", q, ("SVOM",) if q == "trois" else ())
    assert memory.history("thread") == (Turn("deux"), Turn("trois", ("SVOM",)))
    assert memory.history("other") == ()


def test_memory_expires_and_clears() -> None:
    clock = Clock()
    memory = ConversationMemory(max_turns=4, ttl_seconds=60, clock=clock)
    memory.record("a", "svom c quoi")
    clock.now = 59
    assert len(memory.history("a")) == 1
    clock.now = 59 + 61
    assert memory.history("a") == ()
    memory.record("a", "nouveau fil")
    assert memory.history("a") == (Turn("nouveau fil"),)
    memory.clear("a")
    assert memory.history("a") == ()


def test_memory_forgets_the_least_recently_used_conversation() -> None:
    memory = ConversationMemory(max_turns=2, ttl_seconds=60, max_conversations=2)
    memory.record("a", "q1")
    memory.record("b", "q2")
    memory.history("a")  # "a" used again: "b" is now the oldest
    memory.record("c", "q3")
    assert len(memory) == 2
    assert memory.history("b") == ()
    assert memory.history("a") == (Turn("q1"),)


def test_memory_is_thread_safe() -> None:
    memory = ConversationMemory(max_turns=3, ttl_seconds=60, max_conversations=50)

    def talk(worker: int) -> None:
        for i in range(200):
            memory.record(("thread", i % 80), f"{worker}-{i}")
            memory.history(("thread", (i * 7) % 80))

    threads = [threading.Thread(target=talk, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(memory) == 50
    assert all(len(memory.history(("thread", i))) <= 3 for i in range(80))


def test_memory_rejects_nonsense_bounds() -> None:
    with pytest.raises(ValueError):
        ConversationMemory(max_turns=0)


def test_a_follow_up_is_answered_through_the_thread(
    make_settings: Callable[..., Settings], focus: CorpusFocus
) -> None:
    """The real engine answers the enriched text: "et elle ramene quoi ?" after a question on
    Chang'e 6 is about Chang'e 6's samples (one text, one encode)."""
    engine = Engine.open(make_settings())
    ctx = contextualize("et elle ramene quoi ?", [Turn("quand part chang'e 6 ?")], focus)
    answer = engine.answer(ctx.text)
    assert not answer.refused
    assert re.search(r"échantillons|samples", answer.text)
