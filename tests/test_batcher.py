"""The micro-batcher as a unit: its engine is a stand-in (it waits on events instead of encoding),
typed against `BatchEngine` with no cast. How it shares questions between workers is in
tests/test_service_workers.py; here, its lifecycle: closing, and engines swapped under it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.answer import Answer
from bot.answering.engine import Prepared
from bot.serving.batcher import BatchEngine, BatcherClosed, MicroBatcher


class _Embedder:
    max_threads = 2

    @contextmanager
    def thread_limit(self, threads: int) -> Iterator[None]:
        yield


class GatedEngine:
    """Answers "<name>: <question>" once `release` is set; `started` is set when a batch begins."""

    def __init__(self, name: str, release: threading.Event | None = None) -> None:
        self.name = name
        self.embedder = _Embedder()
        self.started = threading.Event()
        self.release = release or threading.Event()
        self.finished: list[str] = []
        if release is None:
            self.release.set()

    def answer_many(self, questions: list[Prepared]) -> list[Answer]:
        self.started.set()
        if not self.release.wait(30):
            raise RuntimeError("the test never released the engine")
        self.finished.extend(q.question for q in questions)
        return [
            Answer(q.question, q.language, False, f"{self.name}: {q.question}") for q in questions
        ]


def prepared(question: str) -> Prepared:
    return Prepared(question, "en", question)


async def test_close_waits_for_the_questions_already_taken_and_queued() -> None:
    engine = GatedEngine("old", threading.Event())
    current: BatchEngine = engine
    batcher = MicroBatcher(lambda: current, workers=2)
    first = asyncio.create_task(batcher.answer(prepared("first")))
    assert await asyncio.to_thread(engine.started.wait, 30)  # a worker holds "first"
    later = [asyncio.create_task(batcher.answer(prepared(f"q{i}"))) for i in range(5)]
    await asyncio.sleep(0)  # queued behind it
    closing = asyncio.create_task(batcher.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # waiting for the held batch
    engine.release.set()
    await asyncio.wait_for(closing, 30)
    # Every question taken or queued before close was answered, none after.
    assert sorted(engine.finished) == sorted(["first", *(f"q{i}" for i in range(5))])
    assert [a.text for a in await asyncio.gather(first, *later)] == [
        "old: first",
        *(f"old: q{i}" for i in range(5)),
    ]
    assert batcher.queued == 0 and batcher.in_flight == 0
    with pytest.raises(BatcherClosed):
        await batcher.answer(prepared("too late"))


async def test_each_batch_uses_the_engine_current_when_it_is_taken() -> None:
    engines = {"old": GatedEngine("old"), "new": GatedEngine("new")}
    current = "old"
    batcher = MicroBatcher(lambda: engines[current], workers=1)
    try:
        assert (await batcher.answer(prepared("a"))).text == "old: a"
        current = "new"  # what the service does on reindex: one reference swap
        assert (await batcher.answer(prepared("b"))).text == "new: b"
    finally:
        await batcher.close()


async def test_a_failing_engine_fails_its_askers_only() -> None:
    class Failing(GatedEngine):
        def answer_many(self, questions: list[Prepared]) -> list[Answer]:
            if any(q.question == "boom" for q in questions):
                raise ValueError("model failed")
            return super().answer_many(questions)

    batcher = MicroBatcher(lambda: Failing("ok"), workers=1, max_batch=1)
    try:
        with pytest.raises(ValueError, match="model failed"):
            await batcher.answer(prepared("boom"))
        assert (await batcher.answer(prepared("fine"))).text == "ok: fine"
    finally:
        await batcher.close()
