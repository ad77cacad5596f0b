"""The intake every way in goes through: cleaning, the rate limit, the language, the observers.

Units: the service is a stand-in (the intake's work is deciding, not answering), the rate limit
runs on a fake clock.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.answer import Answer, FactCheckRef, Language
from bot.answering.conversation import Turn
from bot.answering.status import IndexInfo
from bot.serving.intake import Admission, Admitted, Failed, Intake, Notes, Outcome, Refusal, Request
from bot.serving.ratelimit import Cooldown

FRENCH = "Quand la mission Chang'e 6 partira-t-elle ?"
ENGLISH = "When will Chang'e 6 launch?"
NOTE = FactCheckRef("fc-1", "claim", "outdated", "Outdated", "summary")
INFO = IndexInfo((), 1, "v1", "model", "now", 1)


class StubService:
    """Records what reaches the service; fails questions containing "boom"."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.searched: list[tuple[str | None, Language]] = []

    async def ask(self, question: str, history: Sequence[str | Turn] = ()) -> Answer:
        self.asked.append(question)
        if "boom" in question:
            raise RuntimeError("the engine failed")
        return Answer(question, "en", False, "an answer")

    async def factchecks(self, topic: str | None, language: Language) -> list[FactCheckRef]:
        self.searched.append((topic, language))
        return [NOTE]

    def info(self) -> IndexInfo:
        return INFO


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[Request, Outcome, float]] = []

    def on_outcome(self, request: Request, outcome: Outcome, seconds: float) -> None:
        self.seen.append((request, outcome, seconds))


class Broken:
    def on_outcome(self, request: Request, outcome: Outcome, seconds: float) -> None:
        raise RuntimeError("observer bug")


def chat_admission(now: list[float], per_seconds: float = 10.0, burst: int = 1) -> Admission:
    return Admission(500, Cooldown(per_seconds, burst, clock=lambda: now[0]))


def ask(
    text: str, user: str = "U1", platform: str = "slack", locale: Language | None = None
) -> Request:
    return Request(platform, user, text, locale=locale)


def test_a_question_is_cleaned_and_its_language_decided_once() -> None:
    admitted = Admission(500).admit(ask(f"  {FRENCH}\x07\u200b "))
    assert isinstance(admitted, Admitted)
    assert admitted.text == FRENCH
    assert admitted.language == "fr"
    english = Admission(500).admit(ask(ENGLISH, locale="fr"))
    assert isinstance(english, Admitted) and english.language == "en"  # the text decides


@pytest.mark.parametrize(
    ("request_", "reason", "language", "line"),
    [
        (ask("  \x00 "), "empty", "en", "Please type a question"),
        (ask("", locale="fr"), "empty", "fr", "Merci d'écrire une question"),
        (ask("x" * 501), "too_long", "en", "501 characters long; the limit is 500"),
        (ask("pourquoi " * 60), "too_long", "fr", "la limite est de 500"),
    ],
)
def test_bad_questions_are_refused_with_their_reason_in_the_users_language(
    request_: Request, reason: str, language: Language, line: str
) -> None:
    refusal = Admission(500).admit(request_)
    assert isinstance(refusal, Refusal)
    assert (refusal.reason, refusal.language) == (reason, language)
    assert line in refusal.message


def test_topics_may_be_empty_and_sources_ignore_text() -> None:
    topic = Admission(500).admit(Request("discord", "1", "  ", "factcheck", locale="fr"))
    assert isinstance(topic, Admitted) and (topic.text, topic.language) == ("", "fr")
    sources = Admission(500).admit(Request("slack", "U1", "x" * 900, "sources"))
    assert isinstance(sources, Admitted) and (sources.text, sources.language) == ("", "en")
    huge = Admission(500).admit(Request("slack", "U1", "x" * 900, "factcheck"))
    assert isinstance(huge, Refusal) and huge.reason == "too_long"


def test_rate_limit_is_per_platform_user_and_a_refused_message_costs_a_turn() -> None:
    now = [0.0]
    admission = chat_admission(now)  # one question per 10 s
    assert isinstance(admission.admit(ask(ENGLISH)), Admitted)
    limited = admission.admit(ask(FRENCH))
    assert isinstance(limited, Refusal) and limited.reason == "rate_limited" and limited.notify
    # Charged too: the wait counts this message (one period for the turn spent, one for it).
    assert limited.wait_seconds == pytest.approx(20.0)
    assert limited.language == "fr" and "merci d'attendre 20 s" in limited.message
    assert isinstance(admission.admit(ask(ENGLISH, user="U2")), Admitted)
    assert isinstance(admission.admit(ask(ENGLISH, platform="discord")), Admitted)
    now[0] = 9.2
    again = admission.admit(ask(ENGLISH))
    assert isinstance(again, Refusal) and again.reason == "rate_limited"
    assert not again.notify  # told 9.2 s ago: nothing is sent
    now[0] = 10.5
    told = admission.admit(ask(ENGLISH))
    # The debt stops at one burst: a flood cannot lock its sender out for longer.
    assert isinstance(told, Refusal) and told.notify and "please wait 20 s" in told.message
    now[0] = 30.5
    assert isinstance(admission.admit(ask(ENGLISH)), Admitted)


def test_an_empty_question_charges_the_bucket() -> None:
    now = [0.0]
    admission = chat_admission(now)  # one question per 10 s
    empty = admission.admit(ask("   "))
    assert isinstance(empty, Refusal) and empty.reason == "empty" and empty.notify
    limited = admission.admit(ask(ENGLISH))
    assert isinstance(limited, Refusal) and limited.reason == "rate_limited"
    assert not limited.notify  # the empty one was told a moment ago
    now[0] = 100.0
    assert isinstance(admission.admit(ask(ENGLISH)), Admitted)


def test_a_flood_of_refused_messages_is_told_once_per_period() -> None:
    now = [0.0]
    admission = chat_admission(now, per_seconds=5.0, burst=3)
    flood = [ask("x" * 40_000), ask(""), ask("y" * 600), ask(ENGLISH)] * 75
    told = [r for r in map(admission.admit, flood) if isinstance(r, Refusal) and r.notify]
    assert len(told) == 1 and told[0].reason == "too_long"
    assert "40000 characters long; the limit is 500" in told[0].message
    now[0] = 5.0  # one period later: the next refusal is told again
    later = admission.admit(ask(""))
    assert isinstance(later, Refusal) and later.notify
    assert isinstance(admission.admit(ask(ENGLISH, user="U2")), Admitted)  # others unaffected


def test_a_refused_text_is_read_no_further_than_the_limit() -> None:
    recorder = Recorder()
    intake = Intake(StubService(), Admission(500), [recorder])
    # French within the limit, English beyond it: only the first 500 characters are read.
    refusal = intake.admit(ask("é" * 499 + " " + "what is the " * 1000))
    assert isinstance(refusal, Refusal) and refusal.reason == "too_long"
    assert refusal.language == "fr"
    assert "Cette question fait 12500 caractères" in refusal.message
    ((seen, _, _),) = recorder.seen
    assert seen.text == "é" * 499 + " "  # what the question log may keep: the limit, no more


def test_local_admission_has_no_rate_limit() -> None:
    admission = Admission(500)
    assert all(isinstance(admission.admit(ask(ENGLISH)), Admitted) for _ in range(50))


async def test_answers_notes_and_sources_go_through_the_service_and_observers() -> None:
    service, recorder = StubService(), Recorder()
    intake = Intake(service, Admission(500), [Broken(), recorder])

    answered = await intake.handle(ask(f" {ENGLISH} "))
    assert isinstance(answered, Answer) and service.asked == [ENGLISH]

    topical = intake.admit(Request("slack", "U1", FRENCH, "factcheck"))
    everything = intake.admit(Request("discord", "1", "", "factcheck", locale="fr"))
    assert isinstance(topical, Admitted) and isinstance(everything, Admitted)
    notes = await intake.factchecks(topical)
    assert notes == Notes(FRENCH, "fr", (NOTE,))
    assert (await intake.factchecks(everything)).topic is None
    # The language decided at admission is the one the notes are summarised in.
    assert service.searched == [(FRENCH, "fr"), (None, "fr")]

    sources = intake.admit(Request("console", "local", kind="sources"))
    assert isinstance(sources, Admitted) and intake.sources(sources) == INFO

    refused = await intake.handle(ask(""))
    assert isinstance(refused, Refusal)

    failing = intake.admit(ask("boom"))
    assert isinstance(failing, Admitted)
    with pytest.raises(RuntimeError, match="the engine failed"):
        await intake.ask(failing)

    kinds = [type(outcome).__name__ for _, outcome, _ in recorder.seen]
    assert kinds == ["Answer", "Notes", "Notes", "IndexInfo", "Refusal", "Failed"]
    assert all(seconds >= 0 for _, _, seconds in recorder.seen)
    request, failed, _ = recorder.seen[-1]
    assert request.text == "boom" and isinstance(failed, Failed)
    assert str(failed.error) == "the engine failed"


async def test_a_closing_intake_refuses_new_requests_and_drains_those_in_flight() -> None:
    import asyncio

    release = asyncio.Event()

    class SlowService(StubService):
        async def ask(self, question: str, history: Sequence[str | Turn] = ()) -> Answer:
            await release.wait()
            return await super().ask(question, history)

    recorder = Recorder()
    intake = Intake(SlowService(), Admission(500), [recorder])
    answers: list[Answer] = []

    async def one_command(text: str) -> None:  # what an adapter's handler does
        intake.track_current_task()
        decided = intake.admit(Request("discord", "u1", text))
        assert isinstance(decided, Admitted)
        answers.append(await intake.ask(decided))

    in_flight = asyncio.create_task(one_command(ENGLISH))
    await asyncio.sleep(0)  # admitted, now waiting for its answer
    intake.close()
    late = intake.admit(Request("discord", "u2", FRENCH))
    assert isinstance(late, Refusal) and late.reason == "closing" and late.language == "fr"
    assert "redémarre" in late.message
    assert await intake.drain(0.01) == 1  # still waiting for the service
    release.set()
    assert await intake.drain(30) == 0
    assert in_flight.done() and [a.question for a in answers] == [ENGLISH]
    assert [type(o) for _, o, _ in recorder.seen] == [Refusal, Answer]
