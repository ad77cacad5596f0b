"""Closing the loop: after a note change, correct the earlier answers and tell the subscribers.

A `ServiceObserver`: `on_changes` (after every rebuild or hot swap) starts one background task
that never holds up an answer. For each note added, changed or removed (unless its newest
revision was saved silent):

- **Corrections.** The answers of the last CORRECTION_WINDOW_DAYS that quoted an article
  sentence the note covers, or showed the note, get one `Correction` per thread: a burst of notes
  is one message listing them. A DM answer is corrected only for a member who subscribed from it.
- **Answers for subscribers.** Every open subscription's question is asked again (`ask`); one
  now answered with a changed note is sent once (`AnsweredLater`) and the subscription resolved.

Every notification is claimed in the database first (`LoopRepository.claim`: a unique key per
(kind, place, note state)), so with several hosts exactly one sends it; then handed to a
`Deliver` (each platform adapter implements it), marked sent or failed. A claim never marked
(the host died between claim and send) is claimed again by one host after NOTIFY_LEASE_SECONDS
(`resend_stale`, run every half lease by `start`). Deliveries are rate-limited per thread or
channel (NOTIFY_CHANNEL_BURST, then one per NOTIFY_CHANNEL_SECONDS).

    notifier = Notifier(store, notes, ask, deliver, settings, counts=metrics)
    service.add_observer(notifier); notifier.start()
    reach = await notifier.reach(note_id, claim, index)   # the note form's dry-run count
    report = await notifier.told(version)                 # the save report's "told" count
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, cast

from bot.answer import Answer, Language
from bot.answering.changes import IndexChanges, NoteChange
from bot.answering.status import IndexInfo
from bot.messages import text
from bot.settings import Settings
from bot.storage import StorageError, Store
from bot.storage.loop import AnswerRecord, Claimed, Place, Subscription
from bot.storage.notes import NoteRepository
from bot.storage.values import utcnow
from index.store import LoadedIndex
from index.verdicts import verdict

log = logging.getLogger("factbot.notify")

ItemChange = Literal["added", "verdict", "edited", "removed"]
Ask = Callable[[str, Language], Awaitable[Answer]]
# Reports kept for `told` (one per index version served).
MAX_REPORTS = 50


# ---------------------------------------------------------------------- what is sent


@dataclass(frozen=True)
class CorrectionItem:
    """One note's change, as a thread is told it."""

    note_id: str
    change: ItemChange
    claim: str
    old_verdict: str | None
    new_verdict: str | None
    summary: str | None  # what is true now, in the thread's language (None: removed)

    def to_json(self) -> dict[str, Any]:
        return {
            "note_id": self.note_id,
            "change": self.change,
            "claim": self.claim,
            "old_verdict": self.old_verdict,
            "new_verdict": self.new_verdict,
            "summary": self.summary,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CorrectionItem:
        return cls(
            str(data["note_id"]),
            cast(ItemChange, data["change"]),
            str(data["claim"]),
            data.get("old_verdict"),
            data.get("new_verdict"),
            data.get("summary"),
        )

    @classmethod
    def of(cls, change: NoteChange, language: Language) -> CorrectionItem:
        before, after = change.before, change.after
        state = after or before
        assert state is not None
        kind: ItemChange
        if before is None:
            kind = "added"
        elif after is None:
            kind = "removed"
        elif change.verdict_changed:
            kind = "verdict"
        else:
            kind = "edited"
        summary = None
        if after is not None:
            summary = after.summaries.get(language) or next(iter(after.summaries.values()), None)
        return cls(
            change.note_id,
            kind,
            state.claim,
            before.verdict if before is not None else None,
            after.verdict if after is not None else None,
            summary,
        )

    def lines(self, language: Language) -> list[str]:
        """What changed and, unless removed, what is true (verdict table labels)."""
        old = verdict(self.old_verdict).label(language) if self.old_verdict else ""
        new = verdict(self.new_verdict).label(language) if self.new_verdict else ""
        if self.change == "added":
            head = text("loop.correction.added", language, claim=self.claim, verdict=new)
        elif self.change == "verdict":
            head = text("loop.correction.verdict", language, claim=self.claim, old=old, new=new)
        elif self.change == "edited":
            head = text("loop.correction.edited", language, claim=self.claim, verdict=new)
        else:
            head = text("loop.correction.removed", language, claim=self.claim, verdict=old)
        lines = [head]
        if self.summary:
            lines.append(f"{text('answer.true', language)}: {self.summary}")
        return lines


@dataclass(frozen=True)
class Correction:
    """One correction message for one thread (or a subscriber's DM): every note of a burst."""

    target: Place
    language: Language
    items: tuple[CorrectionItem, ...]

    def lines(self) -> list[str]:
        out = [text("loop.correction.title", self.language)]
        for item in self.items:
            out.extend(item.lines(self.language))
        return out

    def render_text(self) -> str:
        return "\n".join(self.lines())


@dataclass(frozen=True)
class AnsweredLater:
    """A subscribed question a new note now answers: the answer, saying a moderator added a note."""

    target: Place
    language: Language
    question: str
    answer: Answer

    def lines(self) -> list[str]:
        return [
            text("loop.answered.title", self.language),
            text("loop.answered.question", self.language, question=self.question),
        ]

    def render_text(self) -> str:
        return "\n".join([*self.lines(), self.answer.text])


Notice = Correction | AnsweredLater


class Deliver(Protocol):
    """Posts a notice where it belongs; each platform adapter implements it. True when posted
    (False: the thread is gone, the DM closed… — marked failed, never sent again)."""

    async def deliver(self, target: Place, message: Notice) -> bool: ...


class NotifyCounts(Protocol):
    """Where the counts go (`bot.ops.metrics.Metrics` is one)."""

    def record_notification(self, kind: str, status: str) -> None: ...


@dataclass(frozen=True)
class Reach:
    """How many would be told of a change to one note (the note form's dry run)."""

    threads: int
    subscribers: int


@dataclass
class NotifyReport:
    """What one index change told (the save report's "told" count)."""

    version: str
    threads: int = 0
    subscribers: int = 0
    corrections: int = 0  # correction messages posted
    answers: int = 0  # subscribed questions answered
    failed: int = 0
    silent: tuple[str, ...] = ()  # notes changed silently: nobody told
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)


# ---------------------------------------------------------------------- rate limit


class ChannelBuckets:
    """A small token bucket per thread or channel: `burst` at once, then one per `period`."""

    def __init__(
        self, burst: int, period: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst, self.period, self._clock = burst, period, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def wait_for(self, key: str) -> float:
        """Take a token for `key`; the seconds to wait before using it (0: at once)."""
        now = self._clock()
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        if self.period > 0:
            tokens = min(float(self.burst), tokens + (now - at) / self.period)
        else:
            tokens = float(self.burst)
        tokens -= 1.0
        self._buckets[key] = (tokens, now)
        # Drop full buckets now and then: one per channel ever told would grow without end.
        if len(self._buckets) > 10_000:
            self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst - 1}
        return 0.0 if tokens >= 0 else -tokens * self.period

    async def take(self, key: str) -> None:
        wait = self.wait_for(key)
        if wait > 0:
            await asyncio.sleep(wait)


# ---------------------------------------------------------------------- the notifier


def covers_in(index: LoadedIndex, note_id: str | None, claim: str) -> tuple[str, ...]:
    """The article sentences (original-language chunk ids) a note bears on in `index`: those it
    is attached to, or that hold its claim (a note not yet built)."""
    claim = claim.strip()
    return tuple(
        sorted(
            c.id
            for c in index.chunks
            if c.kind == "article"
            and c.canonical is None
            and ((note_id is not None and note_id in c.notes) or (claim and claim in c.text))
        )
    )


def _item_key(change: NoteChange) -> str:
    """The note state a notification is about: the same on every host that sees the change."""
    if change.after is not None:
        return f"{change.note_id}@{change.after.digest}"
    assert change.before is not None
    return f"{change.note_id}@removed:{change.before.digest}"


# The platforms notifications go to (the `platform` of a notification row).
CHAT_PLATFORMS = ("discord", "slack")


def _bears_on(change: NoteChange, record: AnswerRecord) -> bool:
    """The answer quoted a sentence the note covers, or showed the note, and does not already
    say what the change says (an answer logged after it: the added note, or the new verdict,
    already shown)."""
    bears = change.note_id in record.note_ids or bool(set(change.covers) & set(record.quoted_ids))
    return bears and not _already_shows(change, record)


def _already_shows(change: NoteChange, record: AnswerRecord) -> bool:
    shown = record.verdicts.get(change.note_id)
    if change.after is None or shown is None:
        return False
    if change.before is None:
        return True  # a note added: an answer showing it came after it
    return change.verdict_changed and shown == change.after.verdict


def _language(value: str) -> Language:
    return "fr" if value == "fr" else "en"


class Notifier:
    """Corrections and subscribers' answers after note changes; one per process."""

    def __init__(
        self,
        store: Store,
        notes: NoteRepository | None,
        ask: Ask,
        deliver: Deliver,
        settings: Settings,
        counts: NotifyCounts | None = None,
        clock: Callable[[], datetime] = utcnow,
        serves: Callable[[str], bool] | None = None,
    ) -> None:
        self.store = store
        # Which platforms this host posts to (None: all). A host claims only what it can send:
        # a claim it could only mark failed would keep the host that runs that platform from it.
        self._serves = serves
        self.loop = store.loop
        self.notes = notes
        self._ask = ask
        self._deliver = deliver
        self.window = timedelta(days=settings.correction_window_days)
        self.lease = settings.notify_lease_seconds
        self.buckets = ChannelBuckets(
            settings.notify_channel_burst, settings.notify_channel_seconds
        )
        self._counts = counts
        self._clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.reports: dict[str, NotifyReport] = {}

    # -------------------------------------------------------------- ServiceObserver

    def on_index(self, info: IndexInfo) -> None:
        """Nothing to do: only changes are acted on."""

    def on_reindex(self, seconds: float | None, result: str) -> None:
        """Nothing to do: only changes are acted on."""

    def on_batch(self, size: int) -> None:
        """Nothing to do: only changes are acted on."""

    def on_changes(self, changes: IndexChanges) -> None:
        """Start telling whom a note change concerns, in the background."""
        if not changes.notes:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a build outside the bot (the CLI): nobody to tell from here
            log.info("notify: index %s changed notes outside the event loop", changes.version)
            return
        self._report(changes.version)
        self._spawn(loop, self.process(changes))

    def _spawn(self, loop: asyncio.AbstractEventLoop, work: Awaitable[Any]) -> None:
        task = loop.create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Awaitable[Any]) -> None:
        try:
            await work
        except StorageError as exc:
            log.warning("notify: the database is unreachable (%s); the next change retries", exc)
        except Exception:  # a bug here must never reach the answering path
            log.exception("notify: telling members about a change failed")

    def _report(self, version: str) -> NotifyReport:
        if version not in self.reports:
            while len(self.reports) >= MAX_REPORTS:
                self.reports.pop(next(iter(self.reports)))
            self.reports[version] = NotifyReport(version)
        return self.reports[version]

    async def told(self, version: str, timeout: float = 30.0) -> NotifyReport | None:
        """The report for the index `version` once its notifications are done (None: none)."""
        report = self.reports.get(version)
        if report is None:
            return None
        try:
            await asyncio.wait_for(report.done.wait(), timeout)
        except TimeoutError:
            return None
        return report

    async def idle(self) -> None:
        """Wait until every notification started so far is done (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -------------------------------------------------------------- one change

    async def process(self, changes: IndexChanges) -> NotifyReport:
        """Tell whom the note changes in `changes` concern; the counts."""
        report = self._report(changes.version)
        try:
            await self._process(changes, report)
        finally:
            report.done.set()
            # One line per change on every host (counts, no ids): what this host sent for it.
            log.info(
                "notify: index %s done: %d correction(s), %d answer(s) sent here, %d failed",
                changes.version,
                report.corrections,
                report.answers,
                report.failed,
            )
        return report

    async def _process(self, changes: IndexChanges, report: NotifyReport) -> None:
        silent: set[str] = set()
        if self.notes is not None:
            silent = await asyncio.to_thread(self.notes.silent, [n.note_id for n in changes.notes])
        report.silent = tuple(sorted(silent))
        loud = [n for n in changes.notes if n.note_id not in silent]
        if not loud:
            return
        # Corrections first: they concern what the bot already said.
        notices: list[tuple[Notice, list[int]]] = []
        notices += await self._corrections(loud)
        told_threads = {m.target.key for m, _ in notices if not m.target.is_dm}
        told_members = {m.target.key for m, _ in notices if m.target.is_dm}
        await self._send(notices, report)
        report.threads += len(told_threads)
        report.subscribers += len(told_members)
        await self._subscriptions(loud, report)

    async def _corrections(self, loud: list[NoteChange]) -> list[tuple[Notice, list[int]]]:
        """One correction per thread (or subscriber's DM) that an affected answer was posted in,
        with the items this host claimed."""
        if self.window.total_seconds() <= 0:
            return []
        since = self._clock() - self.window
        records = await asyncio.to_thread(self.loop.answers_since, since)
        # place key -> (place, language of its newest answer, changes)
        groups: dict[str, tuple[Place, str, datetime, dict[str, NoteChange]]] = {}
        dm_answers: dict[str, tuple[AnswerRecord, list[NoteChange]]] = {}

        def add(place: Place, language: str, at: datetime, found: list[NoteChange]) -> None:
            key = place.key
            _, lang, newest, items = groups.get(key, (place, language, at, {}))
            if at >= newest:
                lang, newest = language, at
            items.update({c.note_id: c for c in found})
            groups[key] = (place, lang, newest, items)

        for record in records:
            found = [c for c in loud if _bears_on(c, record)]
            if not found:
                continue
            if record.place.is_dm:
                dm_answers[record.answer_id] = (record, found)  # only for a subscriber
            elif record.place.thread_id or record.place.channel_id:
                add(record.place, record.language, record.asked_at, found)
        if dm_answers:
            subs = await asyncio.to_thread(self.loop.subscriptions_for_answers, dm_answers)
            for sub in subs:
                if sub.answer_id is None:
                    continue
                record, found = dm_answers[sub.answer_id]
                add(sub.place, sub.language, record.asked_at, found)
        out: list[tuple[Notice, list[int]]] = []
        for place, lang, _, items in groups.values():
            language = _language(lang)
            claimed = await asyncio.to_thread(
                self._claim_items, place, language, [items[k] for k in sorted(items)]
            )
            if claimed:
                ids, kept = zip(*claimed, strict=True)
                out.append((Correction(place, language, tuple(kept)), list(ids)))
        return out

    def _claim_items(
        self, place: Place, language: Language, changes: list[NoteChange]
    ) -> list[tuple[int, CorrectionItem]]:
        """Claim each note's correction for `place`: only those no host claimed before."""
        if not self._here(place):
            return []
        claimed = []
        for change in changes:
            item = CorrectionItem.of(change, language)
            payload = {
                "place": self._place_json(place),
                "language": language,
                "item": item.to_json(),
            }
            row = self.loop.claim("correction", place.key, _item_key(change), place, payload)
            if row is not None:
                claimed.append((row, item))
        return claimed

    async def _subscriptions(self, loud: list[NoteChange], report: NotifyReport) -> None:
        """Ask every open subscription's question again; send those a changed note answers."""
        changed = {c.note_id for c in loud}
        covered = {s for c in loud for s in c.covers}
        subs = await asyncio.to_thread(self.loop.open_subscriptions)
        for sub in subs:
            if not self._here(sub.place):
                continue
            answer = await self._ask(sub.question, _language(sub.language))
            if answer.refused:
                continue
            shown = {f.id for f in answer.factchecks} | {
                s.doc for s in answer.sources if s.kind == "factcheck"
            }
            quoted = {s.id for s in answer.sources if s.kind == "article"}
            if not (shown & changed or quoted & covered):
                continue  # answered, but not thanks to this change (a 👎's same answer)
            if await self._send_answer(sub, answer, report):
                report.subscribers += 1
                report.answers += 1

    async def _send_answer(self, sub: Subscription, answer: Answer, report: NotifyReport) -> bool:
        payload = {
            "place": self._place_json(sub.place),
            "language": sub.language,
            "question": sub.question,
            "subscription": sub.id,
        }
        row = await asyncio.to_thread(
            self.loop.claim, "answer", f"sub:{sub.id}", "answer", sub.place, payload
        )
        if row is None:
            return False  # another host has it
        await asyncio.to_thread(self.loop.resolve_subscription, sub.id, "answered")
        notice = AnsweredLater(sub.place, _language(sub.language), sub.question, answer)
        sent = await self._send([(notice, [row])], report)
        return sent > 0

    def _here(self, place: Place) -> bool:
        """Is `place`'s platform one this host posts to?"""
        return self._serves is None or self._serves(place.platform)

    # -------------------------------------------------------------- sending

    async def _send(self, notices: list[tuple[Notice, list[int]]], report: NotifyReport) -> int:
        """Deliver `notices`, one thread or channel after another (its rate limit), channels in
        parallel; mark each row sent or failed. Returns how many were posted."""
        by_channel: dict[str, list[tuple[Notice, list[int]]]] = defaultdict(list)
        for notice, rows in notices:
            by_channel[notice.target.channel_key].append((notice, rows))

        async def channel(key: str, queue: list[tuple[Notice, list[int]]]) -> int:
            posted = 0
            for notice, rows in queue:
                await self.buckets.take(key)
                ok = await self._deliver_one(notice)
                await asyncio.to_thread(self.loop.mark, rows, "sent" if ok else "failed")
                kind = "correction" if isinstance(notice, Correction) else "answer"
                if self._counts is not None:
                    self._counts.record_notification(kind, "sent" if ok else "failed")
                if ok:
                    posted += 1
                    if isinstance(notice, Correction):
                        report.corrections += 1
                else:
                    report.failed += 1
            return posted

        done = await asyncio.gather(*(channel(k, q) for k, q in by_channel.items()))
        return sum(done)

    async def _deliver_one(self, notice: Notice) -> bool:
        try:
            return bool(await self._deliver.deliver(notice.target, notice))
        except Exception:
            log.exception("notify: delivering a %s failed", type(notice).__name__)
            return False

    def _place_json(self, place: Place) -> dict[str, Any]:
        """A place as a notification row keeps it: a DM target sealed, never in clear."""
        return {
            "platform": place.platform,
            "guild_id": place.guild_id,
            "channel_id": place.channel_id,
            "thread_id": place.thread_id,
            "user_hash": place.user_hash,
            "dm": self.loop.seal(place.dm) if place.dm else None,
        }

    def _place_of(self, data: dict[str, Any]) -> Place:
        sealed = data.get("dm")
        return Place(
            data["platform"],
            data.get("guild_id"),
            data.get("channel_id"),
            data.get("thread_id"),
            self.loop.unseal(sealed) if sealed else None,
            data.get("user_hash"),
        )

    # -------------------------------------------------------------- after a crash

    def start(self) -> None:
        """Send, every half lease, what a host claimed and never sent (call on the loop)."""
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        while True:
            await self._guarded(self.resend_stale())
            await asyncio.sleep(max(self.lease / 2, 1.0))

    async def resend_stale(self) -> int:
        """Claim again and send the notifications whose host died between claim and send;
        returns how many were posted."""
        platforms = None
        if self._serves is not None:
            platforms = [p for p in CHAT_PLATFORMS if self._serves(p)]
        stale = await asyncio.to_thread(self.loop.reclaim_stale, self.lease, platforms)
        if not stale:
            return 0
        report = NotifyReport("stale")
        notices: list[tuple[Notice, list[int]]] = []
        corrections: dict[str, list[Claimed]] = defaultdict(list)
        for row in stale:
            if row.kind == "correction":
                corrections[row.target_key].append(row)
            else:
                again = await self._answer_again(row)
                if again is None:
                    await asyncio.to_thread(self.loop.mark, [row.id], "failed")
                else:
                    notices.append((again, [row.id]))
        for rows in corrections.values():
            first = rows[0].payload
            items = tuple(CorrectionItem.from_json(r.payload["item"]) for r in rows)
            place = self._place_of(first["place"])
            correction = Correction(place, _language(str(first["language"])), items)
            notices.append((correction, [r.id for r in rows]))
        log.info("notify: sending %d notification(s) claimed by a host that stopped", len(stale))
        return await self._send(notices, report)

    async def _answer_again(self, row: Claimed) -> AnsweredLater | None:
        data = row.payload
        language = _language(str(data["language"]))
        answer = await self._ask(str(data["question"]), language)
        if answer.refused:
            return None
        return AnsweredLater(self._place_of(data["place"]), language, str(data["question"]), answer)

    # -------------------------------------------------------------- the note form's dry run

    async def reach(self, note_id: str | None, claim: str, index: LoadedIndex) -> Reach:
        """How many threads (and subscribers by DM) a change to this note would tell now."""
        covers = set(covers_in(index, note_id, claim))
        if self.window.total_seconds() <= 0:
            return Reach(0, 0)
        records = await asyncio.to_thread(self.loop.answers_since, self._clock() - self.window)
        hit = [
            r
            for r in records
            if (note_id is not None and note_id in r.note_ids) or covers & set(r.quoted_ids)
        ]
        threads = {r.place.key for r in hit if not r.place.is_dm}
        dm = [r.answer_id for r in hit if r.place.is_dm]
        subs = await asyncio.to_thread(self.loop.subscriptions_for_answers, dm) if dm else []
        members = {s.place.key for s in subs if s.place.is_dm}
        threads |= {s.place.key for s in subs if not s.place.is_dm}
        return Reach(len(threads), len(members))

    async def aclose(self) -> None:
        """Stop the sweep; let running notifications finish."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        await self.idle()
