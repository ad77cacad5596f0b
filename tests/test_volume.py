"""Volume cannot hurt the bot (issue 20, item 4): refusals are charged and told once per period,
nothing reads past MAX_QUESTION_CHARS, caches keyed on user text are bounded in bytes, the rate
limit's buckets and the conversations are bounded and pruned on a timer, and the index watch
debounces bursts of note changes and backs off from a revision that does not build.

Units run on fake clocks; the flood runs through the real service (real model, real question
log on SQLite) and through the real discord.py client against the fake Discord; the watch
rebuilds real indexes from a note source whose revision the test moves.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import tracemalloc
from collections.abc import Callable

import pytest

from bot.answering.conversation import ConversationMemory
from bot.answering.engine import Engine
from bot.answering.language import detect_language
from bot.serving.intake import Admission, Intake, Outcome, Refusal, Request
from bot.serving.ratelimit import Cooldown
from bot.serving.service import FactBotService
from bot.settings import Settings
from index.corpus import ChatNote, NoteOverlay
from index.embeddings import QUERY_CACHE_BYTES
from index.lru import LruCache, Memo
from tests.chat_support import discord_env, running_discord
from tests.fakes.discord_server import FakeDiscord
from tests.learning_support import chat_intake, questions, started_learning
from tests.test_intake import StubService

pytestmark = pytest.mark.timeout(180)

LIMIT = 500
# What 300 refusals of 40,000 characters may leave behind once the fix clips them: at most 300
# texts of LIMIT characters in the language cache and in the question log's buffer, with their
# containers (measured: 0.3 MiB). Without the clip each refused text (40 kB: é is one byte in
# CPython's Latin-1 strings) stays in the language cache: 11.8 MiB measured on the code before
# the fix. 2 MiB separates the two and leaves room for the writer thread's own allocations.
MEMORY_BOUND = 2 * 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Seen:
    """An intake observer counting outcomes, with an event at a target count."""

    def __init__(self, target: int) -> None:
        self.outcomes: list[Outcome] = []
        self.target = target
        self.reached = asyncio.Event()

    def on_outcome(self, request: Request, outcome: Outcome, seconds: float) -> None:
        self.outcomes.append(outcome)
        if len(self.outcomes) >= self.target:
            self.reached.set()


async def until(condition: Callable[[], bool], timeout: float = 60) -> None:
    """Wait until `condition()` holds (re-checked every few milliseconds; the timeout only
    bounds a failure)."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


# ---------------------------------------------------------------------- caches in bytes


def test_the_lru_evicts_by_bytes() -> None:
    cache: LruCache[str, str] = LruCache(1000, max_bytes=10_000)
    for i in range(5):
        cache.put(f"k{i}", "x" * 1000)
    assert len(cache) == 5 and cache.bytes <= 10_000
    assert cache.get("k0") is not None  # the most recent now
    cache.put("big", "y" * 6000)  # over the budget: the least recently used go first
    assert "big" in cache and "k0" in cache and "k1" not in cache and "k2" not in cache
    assert cache.bytes <= 10_000
    cache.put("huge", "z" * 20_000)  # heavier than the whole budget: not kept, nothing evicted
    assert "huge" not in cache and "k0" in cache and "big" in cache
    cache.put("k0", "short")  # replacing an entry re-weighs it
    assert cache.get("k0") == "short" and cache.bytes <= 10_000


def test_a_memo_remembers_every_value_and_stays_bounded() -> None:
    """A miss stores its entry without `put` (the common case inlined): the same bounds, and a
    None result is remembered like any other (it used to be computed again at every call)."""
    calls: list[str] = []

    def nothing(key: str) -> None:
        calls.append(key)

    remembered = Memo(nothing, capacity=3, max_bytes=10_000)
    for key in ("a", "a", "b", "a"):
        assert remembered(key) is None
    assert calls == ["a", "b"]
    sized = Memo(str.upper, capacity=100, max_bytes=2_000)
    for i in range(50):
        assert sized(f"k{i}" + "x" * 100) == f"K{i}" + "X" * 100
        assert sized.cache.bytes <= 2_000
    assert sized("huge" * 1_000) == "HUGE" * 1_000 and "huge" * 1_000 not in sized.cache
    assert 0 < len(sized.cache) < 50 and f"k49{'x' * 100}" in sized.cache


def test_the_language_cache_is_bounded_in_bytes() -> None:
    for i in range(300):
        detect_language(f"{i} " + "é" * 20_000)  # longer than any question: a direct caller
    cache = detect_language.cache
    assert cache.max_bytes is not None and cache.bytes <= cache.max_bytes
    assert len(cache) < 300


def test_cached_question_vectors_are_bounded_and_own_their_memory(
    service: FactBotService,
) -> None:
    embedder = service.engine.embedder
    texts = [f"question {i} about Chang'e 6" for i in range(5)]
    embedder.encode_queries(texts)
    cache = embedder._cache
    assert cache.max_bytes == QUERY_CACHE_BYTES and cache.bytes <= QUERY_CACHE_BYTES
    for text in texts:
        vector = cache.get(text)
        # A row of the batch would keep the whole batch's matrix alive behind its small header.
        assert vector is not None and vector.base is None


# ---------------------------------------------------------------------- bounded and pruned


def test_cooldown_buckets_are_bounded_and_pruned() -> None:
    clock = Clock()
    cooldown = Cooldown(10, burst=2, clock=clock, max_keys=100)
    for i in range(250):
        clock.now = i / 100
        cooldown.hit(f"u{i}")
        assert len(cooldown) <= 100
    assert len(cooldown) == 100
    cooldown.hit("u249")
    cooldown.hit("u249")  # in debt, and told about it
    assert cooldown.tell("u249")
    clock.now = 5.0
    assert cooldown.prune() == 0  # half a token back: nobody is full again yet
    clock.now = 15.0
    assert cooldown.prune() == 99 and len(cooldown) == 1  # u249 still owes a period
    clock.now = 40.0
    assert cooldown.prune() == 1 and len(cooldown) == 0


def test_conversations_are_pruned_without_being_touched() -> None:
    clock = Clock()
    memory = ConversationMemory(ttl_seconds=60, max_conversations=3, clock=clock)
    for key in ("a", "b", "c", "d"):
        memory.record(key, "svom ?")
    assert len(memory) == 3
    clock.now = 30
    memory.record("c", "lancé quand ?")
    clock.now = 61
    assert memory.prune() == 2 and len(memory) == 1  # b and d; c was asked again at 30


async def test_the_intake_prunes_on_a_timer_until_closed() -> None:
    clock = Clock()
    memory = ConversationMemory(ttl_seconds=60, clock=clock)
    cooldown = Cooldown(5, burst=1, clock=clock)
    intake = Intake(StubService(), Admission(LIMIT, cooldown), memory=memory)
    for user in range(20):
        request = Request("slack", f"U{user}", "svom ?", conversation=f"t{user}")
        await intake.handle(request)
    assert len(cooldown) == 20 and len(memory) == 20
    intake.start_pruning(every=0.01)
    clock.now = 120.0  # everyone is idle, every conversation quiet: nothing refused, no touch
    await until(lambda: len(cooldown) == 0 and len(memory) == 0)
    await intake.aclose()
    assert intake._pruning is None


# ---------------------------------------------------------------------- a flood of refusals


async def test_a_flood_of_huge_questions_gets_one_reply_and_leaves_no_memory_behind(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    """300 questions of 40,000 characters from one user through the real service's intake, its
    questions logged as `factbot run` does."""
    settings = make_settings(USER_COOLDOWN_SECONDS="3600", USER_COOLDOWN_BURST="3")
    learning = await started_learning(settings)
    try:
        intake = chat_intake(settings, service, learning)
        # Warm up what any first request costs once (regexes, the message catalogue).
        intake.admit(Request("discord", "warm-up", "é" * 40_000))
        assert learning.store.flush(timeout=30)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            told = 0
            for i in range(300):
                decided = intake.admit(Request("discord", "flooder", f"{i} " + "é" * 40_000))
                assert isinstance(decided, Refusal) and decided.reason == "too_long"
                told += decided.notify
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert told == 1  # one reply for the whole flood (the period is an hour here)
        print(f"memory grown by 300 refusals of 40k characters: {grown / 1024:.0f} KiB")
        assert grown < MEMORY_BOUND
        assert learning.store.flush(timeout=30)
        rows = [r for r in questions(learning.store) if r["reason"] == "too_long"]
        assert len(rows) == 301
        assert max(len(r["question"]) for r in rows) <= settings.max_question_chars
    finally:
        await learning.aclose()


async def test_a_flood_of_mentions_gets_one_public_reply(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    flood = [("x" * 600 if i % 2 else "") for i in range(40)]
    async with FakeDiscord() as fake:
        settings = make_settings(
            **discord_env(fake, USER_COOLDOWN_SECONDS="3600", USER_COOLDOWN_BURST="3")
        )
        seen = Seen(len(flood))
        intake = Intake(service, Admission.for_chat(settings), [seen])
        async with running_discord(settings, service, fake, intake):
            for text in flood:
                await fake.post_message(f"<@{fake.bot_id}> {text}", mention_bot=True)
            await asyncio.wait_for(seen.reached.wait(), 60)
            path = f"/channels/{fake.channel_id}/messages"
            (reply,) = await fake.wait_for(lambda r: r.path == path and r.method == "POST")
    assert all(isinstance(o, Refusal) for o in seen.outcomes)
    assert reply.body["content"].startswith("Please type a question")
    posted = [r for r in fake.requests if r.method in ("POST", "PUT") and "/channels/" in r.path]
    assert posted == [reply]  # no other reply, no reaction, no thread


# ---------------------------------------------------------------------- the index watch


class MovingNotes:
    """A notes source whose newest revision the test moves; the builds that read it are real.
    A revision in `broken` holds a chat note that is no corpus note: its build fails."""

    def __init__(self) -> None:
        self.current = 0
        self.broken: set[int] = set()
        self.saves_between_reads = 0  # that many reads each find one more revision (a burst)
        self.reads = 0
        self.builds = 0

    def revision(self) -> int:
        self.reads += 1
        if self.saves_between_reads:
            self.saves_between_reads -= 1
            self.current += 1
        return self.current

    def overlay(self) -> NoteOverlay:
        self.builds += 1
        revision = self.current
        if revision in self.broken:
            return NoteOverlay(
                revision, (ChatNote("fc-broken", "no front matter", revision, None),)
            )
        return NoteOverlay(revision, ())


def watched_service(
    settings: Settings, notes: MovingNotes, clock: Clock | None = None
) -> FactBotService:
    engine = Engine.open(settings, notes)
    notes.builds = 0  # opening read it once
    if clock is None:
        return FactBotService(settings, engine)
    return FactBotService(settings, engine, clock=clock)


async def test_a_failing_revision_is_retried_less_and_less_often_and_logged_once(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="factbot")
    settings = make_settings(
        INDEX_WATCH_SECONDS="2",
        INDEX_REBUILD_DEBOUNCE_SECONDS="0",
        INDEX_RETRY_MAX_SECONDS="30",
    )
    clock = Clock()
    notes = MovingNotes()
    service = watched_service(settings, notes, clock)
    try:
        served = service.engine.version
        notes.current, notes.broken = 1, {1, 2}
        tried_at: list[float] = []
        for second in range(240):  # one check a second, on the fake clock
            clock.now = float(second)
            builds = notes.builds
            assert not await service.check_for_new_notes()
            if notes.builds > builds:
                tried_at.append(clock.now)
        gaps = [b - a for a, b in itertools.pairwise(tried_at)]
        assert tried_at[0] == 0 and len(tried_at) < 20
        assert gaps == sorted(gaps) and gaps[0] >= 2 and gaps[-1] == 30  # grows, then capped
        assert len({g for g in gaps if g < 30}) >= 3  # really exponential, not one long wait
        failures = [r for r in caplog.records if r.name.startswith("factbot")]
        assert [r.getMessage().split(",")[0] for r in failures] == [
            "notes revision 1 does not build"
        ]
        assert failures[0].levelno == logging.WARNING
        assert service.engine.version == served

        # A newer revision is tried at once (and said once); one that builds ends the back-off.
        caplog.clear()
        notes.current = 2
        builds = notes.builds
        assert not await service.check_for_new_notes()
        assert notes.builds == builds + 1
        assert [r.getMessage().split(",")[0] for r in caplog.records] == [
            "notes revision 2 does not build"
        ]
        notes.current = 3
        assert await service.check_for_new_notes()
        assert service.engine.notes_revision == 3 and service.retry.failing is None
    finally:
        await service.aclose()


async def test_a_burst_of_note_changes_is_one_rebuild(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(INDEX_WATCH_SECONDS="0.05", INDEX_REBUILD_DEBOUNCE_SECONDS="0.05")
    notes = MovingNotes()
    service = watched_service(settings, notes)
    try:
        notes.saves_between_reads = 3  # three saves land while the watch looks
        service.start_watching()
        await until(lambda: service.engine.notes_revision == 3)
        reads = notes.reads
        await until(lambda: notes.reads >= reads + 5)  # the watch goes on: nothing more to do
        assert notes.builds == 1
    finally:
        await service.aclose()
