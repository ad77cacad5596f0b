"""How FactBotService shares questions between its answering workers, and how an encode's
threads are limited.

The scheduling tests use a stand-in engine (a unit: it sleeps instead of encoding and records
which worker answered which batch, with how many threads); the last test uses the real model.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import numpy as np
import pytest

from bot.answer import Answer
from bot.answering.engine import Engine, Prepared
from bot.serving.service import FactBotService
from bot.settings import Settings
from index.embeddings import Embedder


class _LimitedEmbedder:
    """What the service needs of an embedder: its thread count and a per-thread limit."""

    def __init__(self, max_threads: int) -> None:
        self.max_threads = max_threads
        self._local = threading.local()

    @contextmanager
    def thread_limit(self, threads: int) -> Iterator[None]:
        self._local.threads = threads
        try:
            yield
        finally:
            self._local.threads = None

    def current(self) -> int | None:
        return getattr(self._local, "threads", None)


class _Reader:
    """Reads a question as itself (what the service needs of `Engine.prepare`); no notes
    database behind it."""

    notes = None

    def prepare(self, question: str, history: Sequence[object] = ()) -> Prepared:
        return Prepared(question, "en", question)


class RecordingEngine(_Reader):
    """Answers a batch after 20 ms + 1 ms a question; fails batches holding "boom"."""

    def __init__(self, max_threads: int = 2) -> None:
        self.embedder = _LimitedEmbedder(max_threads)
        self.batches: list[tuple[str, int, int | None]] = []  # worker, size, threads
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def answer_many(self, questions: Sequence[Prepared]) -> list[Answer]:
        with self._lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            self.batches.append(
                (threading.current_thread().name, len(questions), self.embedder.current())
            )
        try:
            time.sleep(0.02 + 0.001 * len(questions))
            if any("boom" in q.question for q in questions):
                raise RuntimeError("the model failed")
            return [Answer(q.question, q.language, False, "ok") for q in questions]
        finally:
            with self._lock:
                self.active -= 1


def _service(engine: RecordingEngine, **env: str) -> FactBotService:
    return FactBotService(Settings.from_mapping(env), cast(Engine, engine))


def test_a_lone_question_gets_all_the_threads() -> None:
    engine = RecordingEngine(max_threads=2)
    service = _service(engine)
    answer = asyncio.run(service.ask("When does Chang'e 6 launch?"))
    assert answer.text == "ok"
    assert [(size, threads) for _, size, threads in engine.batches] == [(1, 2)]
    asyncio.run(service.aclose())


def test_the_engine_served_is_set_aside_from_the_cyclic_collector() -> None:
    """A full collection under load would otherwise walk the whole loaded engine while holding
    the GIL; frozen objects are in no generation `gc.get_objects()` lists."""
    gc.unfreeze()
    engine = RecordingEngine(max_threads=2)
    assert any(o is engine for o in gc.get_objects())
    service = _service(engine)
    try:
        assert gc.get_freeze_count() > 0
        assert not any(o is engine for o in gc.get_objects())
    finally:
        asyncio.run(service.aclose())
        gc.unfreeze()  # the rest of the suite's garbage is collected as usual


def test_questions_arriving_together_are_shared_by_two_narrow_workers() -> None:
    engine = RecordingEngine(max_threads=2)
    service = _service(engine)
    questions = [f"question {i}" for i in range(40)]

    async def main() -> list[Answer]:
        return await asyncio.gather(*(service.ask(q) for q in questions))

    answers = asyncio.run(main())
    assert [a.question for a in answers] == questions  # each asker gets its own answer
    assert sum(size for _, size, _ in engine.batches) == 40  # each question answered once
    assert len({worker for worker, _, _ in engine.batches}) == 2
    assert engine.most_active == 2  # the two workers' batches overlapped
    # While both work, each encodes with one of the two threads.
    assert any(threads == 1 for _, _, threads in engine.batches)
    # No worker takes more than its fair share: half of the questions in play.
    assert max(size for _, size, _ in engine.batches) <= 20
    asyncio.run(service.aclose())


def test_closed_loop_askers_never_exceed_a_fair_share() -> None:
    engine = RecordingEngine(max_threads=2)
    service = _service(engine)
    answered: dict[int, list[str]] = {n: [] for n in range(16)}

    async def asker(n: int) -> None:
        for i in range(6):
            answered[n].append((await service.ask(f"asker {n} question {i}")).question)

    async def main() -> None:
        await asyncio.gather(*(asker(n) for n in range(16)))

    asyncio.run(main())
    sizes = [size for _, size, _ in engine.batches]
    assert sum(sizes) == 96  # each question answered once, to its own asker, in order
    assert answered == {n: [f"asker {n} question {i}" for i in range(6)] for n in range(16)}
    # 16 askers, 2 workers: no batch holds more than half of the questions in play (without the
    # fair share one worker takes 14 and the other 2). How batches form over time depends on
    # the scheduler; benchmarks/README.md measures it.
    assert max(sizes) <= 8, sizes
    asyncio.run(service.aclose())


def test_a_failing_batch_fails_its_askers_and_the_workers_go_on() -> None:
    engine = RecordingEngine(max_threads=2)
    service = _service(engine)

    async def main() -> list[Answer]:
        with pytest.raises(RuntimeError, match="the model failed"):
            await service.ask("boom")
        return await asyncio.gather(*(service.ask(f"after {i}") for i in range(10)))

    assert [a.text for a in asyncio.run(main())] == ["ok"] * 10
    assert service.batcher.in_flight == 0 and service.batcher.queued == 0
    asyncio.run(service.aclose())


@pytest.mark.parametrize(("env", "max_threads"), [({"ANSWER_WORKERS": "1"}, 2), ({}, 1)])
def test_one_worker_when_asked_or_when_the_encoder_has_one_thread(
    env: dict[str, str], max_threads: int
) -> None:
    engine = RecordingEngine(max_threads=max_threads)
    service = _service(engine, **env)

    async def main() -> None:
        await asyncio.gather(*(service.ask(f"question {i}") for i in range(20)))

    asyncio.run(main())
    assert engine.most_active == 1
    assert len({worker for worker, _, _ in engine.batches}) == 1
    asyncio.run(service.aclose())


def test_a_closed_asker_loop_does_not_stall_the_worker() -> None:
    release = threading.Event()

    class SlowEngine(_Reader):  # answers once released
        embedder = _LimitedEmbedder(1)

        def answer_many(self, questions: list[Prepared]) -> list[Answer]:
            release.wait(10)
            return [Answer(q.question, q.language, True, "no") for q in questions]

    service = FactBotService(Settings(), cast(Engine, SlowEngine()))
    first = asyncio.new_event_loop()
    task = first.create_task(service.ask("first question"))
    first.run_until_complete(asyncio.sleep(0.05))  # the worker now holds "first question"
    task.cancel()
    first.run_until_complete(asyncio.gather(task, return_exceptions=True))
    first.close()  # the answer for "first question" now has nowhere to go
    release.set()

    async def second() -> Any:
        return await asyncio.wait_for(service.ask("second question"), 30)

    assert asyncio.run(second()).question == "second question"
    asyncio.run(service.aclose())


class _FakeModel:
    def get_embedding_dimension(self) -> int:
        return 2

    def encode(self, texts: list[str], **_: Any) -> np.ndarray[Any, np.dtype[np.float32]]:
        return np.full((len(texts), 2), 1 / np.sqrt(2), dtype=np.float32)


def test_thread_limit_is_per_thread_nested_and_capped() -> None:
    calls: list[int] = []
    embedder = Embedder("fake", _FakeModel(), max_threads=4, set_threads=calls.append)
    embedder.encode(["a"])
    with embedder.thread_limit(1):
        embedder.encode(["b"])
        with embedder.thread_limit(2):
            embedder.encode(["c"])
        embedder.encode(["d"])
        other = threading.Thread(target=embedder.encode, args=(["e"],))
        other.start()
        other.join()
    with embedder.thread_limit(9):
        embedder.encode(["f"])
    embedder.encode(["g"])
    assert calls == [4, 1, 2, 1, 4, 4, 4]


def test_thread_limit_narrows_torch_in_the_calling_thread_only() -> None:
    import torch

    from bot.settings import DEFAULT_MODEL
    from index.embeddings import load_embedder

    # Two threads stated, not torch's default for this machine (which may count one core).
    embedder = load_embedder(DEFAULT_MODEL, threads=2)
    assert embedder.max_threads == 2
    seen: dict[str, int] = {}

    def narrow() -> None:
        with embedder.thread_limit(1):
            embedder.encode(["Quand part Chang'e 6 ?"])
            seen["narrow"] = torch.get_num_threads()

    def fresh() -> None:  # a new thread starts with the count last set anywhere: here 1
        embedder.encode(["When does Chang'e 6 launch?"])
        seen["fresh"] = torch.get_num_threads()

    for target in (narrow, fresh):
        worker = threading.Thread(target=target)
        worker.start()
        worker.join()
    embedder.encode(["Which instruments fly?"])
    assert seen == {"narrow": 1, "fresh": embedder.max_threads}
    assert torch.get_num_threads() == embedder.max_threads


@pytest.mark.parametrize(
    ("workers", "max_threads", "plan"),
    [(2, 2, (2, 1)), (2, 1, (1, 1)), (1, 2, (1, 2)), (2, 8, (2, 4)), (4, 2, (2, 1))],
)
def test_worker_plan(workers: int, max_threads: int, plan: tuple[int, int]) -> None:
    from bot.serving.service import worker_plan

    assert worker_plan(workers, max_threads) == plan
