"""Closing the loop (bot/learning/notify.py, bot/storage/loop.py): corrections of earlier answers
and subscribers' answers after a note change, each claimed in the database and sent once, on
real SQLite and PostgreSQL databases; the real model and index where a question is asked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import func, select

from bot.answer import Answer, Language
from bot.answering.changes import IndexChanges, NoteChange, NoteState
from bot.community import Community
from bot.learning.notify import AnsweredLater, Correction, Notice, Notifier
from bot.learning.privacy import MemberPrivacy
from bot.learning.question_log import QuestionLog
from bot.learning.report import build_report, loop_lines
from bot.messages import text
from bot.notes.records import Moderator, NoteForm, NoteSaved
from bot.serving.intake import Request
from bot.serving.service import FactBotService
from bot.settings import Settings
from bot.storage import Database, Store
from bot.storage.hashing import UserHasher
from bot.storage.loop import Place
from bot.storage.notes import NoteRepository
from bot.storage.schema import handoffs, notifications, question_log, subscriptions
from tests.learning_support import KEY
from tests.note_support import CLAIM, FORM, REFUSED_NOW

NOW = datetime.now(UTC)
ALICE = Moderator("discord", "1400000000000000001", "alice", "G1")


class Recorder:
    """A `Deliver` that records what it is given (the platforms' come in the adapter step);
    `crash` makes it die like a host stopped between claim and send."""

    def __init__(self, ok: bool = True, crash: bool = False) -> None:
        self.sent: list[tuple[Place, Notice]] = []
        self.ok, self.crash = ok, crash

    async def deliver(self, target: Place, message: Notice) -> bool:
        if self.crash:
            raise asyncio.CancelledError  # the process stops here: nothing marked
        self.sent.append((target, message))
        return self.ok


@pytest.fixture
def stores() -> Iterator[Callable[..., Store]]:
    made: list[Store] = []

    def make(url: str, clock: Callable[[], datetime] | None = None) -> Store:
        # Every store reads the test's clock (NOW unless told otherwise), never the wall clock:
        # leases and windows must not depend on how long the suite has been running.
        options: dict[str, Any] = {
            "interval": 0.02,
            "retry_max": 0.5,
            "clock": clock or (lambda: NOW),
        }
        store = Store(Database(url), UserHasher(KEY), **options)
        store.start(wait=30)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close(timeout=2)


def settings_for(url: str, **env: str) -> Settings:
    return Settings.from_mapping({"DATABASE_URL": url, "NOTIFY_CHANNEL_SECONDS": "0", **env})


async def never_asked(question: str, language: Language) -> Answer:
    raise AssertionError("no subscription: nothing to ask")


async def still_refused(question: str, language: Language) -> Answer:
    return Answer(question, language, True, "")


def notifier(store: Store, deliver: Recorder, url: str, **env: str) -> Notifier:
    return Notifier(store, None, still_refused, deliver, settings_for(url, **env))


def state(verdict: str, digest: str, claim: str = "claim x") -> NoteState:
    return NoteState(claim, verdict, {"fr": f"vrai ({verdict})", "en": f"true ({verdict})"}, digest)


def changes(*notes: NoteChange) -> IndexChanges:
    return IndexChanges("v1", "v2", 74, 74, notes=notes)


X_VERDICT = NoteChange("fc-x", state("accurate", "x1"), state("outdated", "x2"), ("article:p1s1",))
Y_ADDED = NoteChange("fc-y", None, state("misleading", "y1", "claim y"), ("article:p2s1",))


def test_a_host_claims_only_what_its_platforms_can_send(
    database_url: str, stores: Callable[..., Store]
) -> None:
    """A Slack-only host that sees the change first leaves the Discord threads to a host that
    runs Discord (it used to claim them and mark them failed: never sent)."""
    first, second = stores(database_url), stores(database_url)
    log_answer(first, "a1", quoted=("article:p1s1",))
    assert first.flush(timeout=30)
    slack_only, with_discord = Recorder(), Recorder()
    settings = settings_for(database_url)
    on_slack = Notifier(
        first, None, still_refused, slack_only, settings, serves=lambda p: p == "slack"
    )
    on_discord = Notifier(
        second, None, still_refused, with_discord, settings, serves=lambda p: p == "discord"
    )
    asyncio.run(on_slack.process(changes(X_VERDICT)))
    asyncio.run(on_discord.process(changes(X_VERDICT)))
    assert slack_only.sent == []
    assert told(with_discord) == {"discord:G1:C1:T1": ["fc-x"]}


def log_answer(
    store: Store,
    answer_id: str,
    *,
    guild: str | None = "G1",
    thread: str | None = "T1",
    quoted: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
    language: str = "en",
    days_ago: float = 1,
    user: str = "u1",
    verdict: str = "accurate",
) -> None:
    store.log_question(
        platform="discord",
        user_id=user,
        question=f"question {answer_id}",
        outcome="answered",
        guild_id=guild,
        channel_id="C1" if guild else "dm-channel",
        thread_id=thread,
        language=language,
        note_ids=notes,
        quoted_ids=quoted,
        verdicts=dict.fromkeys(notes, verdict),
        answer_id=answer_id,
        asked_at=NOW - timedelta(days=days_ago),
    )


def told(recorder: Recorder) -> dict[str, list[str]]:
    """Place key -> the note ids its one message listed (a place told twice fails)."""
    out: dict[str, list[str]] = {}
    for place, message in recorder.sent:
        assert place.key not in out, f"{place.key} told twice"
        assert isinstance(message, Correction)
        out[place.key] = [i.note_id for i in message.items]
    return out


# ---------------------------------------------------------------------- corrections


def test_a_burst_of_note_changes_is_one_correction_per_affected_thread(
    database_url: str, stores: Callable[..., Store]
) -> None:
    store = stores(database_url, clock=lambda: NOW)
    log_answer(store, "a1", thread="T1", quoted=("article:p1s1", "article:p2s1"))
    log_answer(store, "a2", thread="T1", notes=("fc-x",))  # same thread, same burst
    log_answer(store, "a3", thread="T2", notes=("fc-x",), language="fr")
    log_answer(store, "a4", thread="T3", quoted=("article:p1s1",), days_ago=40)  # too old
    log_answer(store, "a5", thread="T4", quoted=("article:p9s9",))  # another sentence
    log_answer(store, "a6", guild="G2", thread="T5", quoted=("article:p9s9",))  # another server
    log_answer(store, "a7", guild=None, thread=None, quoted=("article:p1s1",))  # DM, no subscriber
    assert store.flush(timeout=30)
    recorder = Recorder()
    report = asyncio.run(
        notifier(store, recorder, database_url).process(changes(X_VERDICT, Y_ADDED))
    )

    assert told(recorder) == {
        "discord:G1:C1:T1": ["fc-x", "fc-y"],  # one message for the burst
        "discord:G1:C1:T2": ["fc-x"],
    }
    by_thread = {place.thread_id: message for place, message in recorder.sent}
    t2 = by_thread["T2"]
    assert isinstance(t2, Correction) and t2.language == "fr"
    rendered = t2.render_text()
    # What changed with the verdict table's labels, and what is true in the thread's language.
    assert "Exact → Dépassé" in rendered and "vrai (outdated)" in rendered
    assert "Accurate → Outdated" in by_thread["T1"].render_text()
    assert (report.threads, report.subscribers, report.corrections) == (2, 0, 2)

    # The same change seen again (another host, a hot swap after a rebuild): nobody told twice.
    again = Recorder()
    asyncio.run(notifier(store, again, database_url).process(changes(X_VERDICT, Y_ADDED)))
    assert again.sent == []
    assert store.loop.notification_counts() == {("correction", "sent"): 3}


def test_a_dm_answer_is_corrected_only_for_a_member_who_subscribed(
    database_url: str, stores: Callable[..., Store]
) -> None:
    store = stores(database_url, clock=lambda: NOW)
    log_answer(store, "dm1", guild=None, thread=None, quoted=("article:p1s1",), user="u1")
    log_answer(store, "dm2", guild=None, thread=None, quoted=("article:p1s1",), user="u2")
    assert store.flush(timeout=30)
    place = store.loop.place("discord", "u1", None, dm="dm-channel-of-u1")
    store.loop.subscribe(place, "u1", "question dm1", "en", answer_id="dm1")
    recorder = Recorder()
    report = asyncio.run(notifier(store, recorder, database_url).process(changes(X_VERDICT)))
    assert [(p.dm, p.is_dm) for p, _ in recorder.sent] == [("dm-channel-of-u1", True)]
    assert report.subscribers == 1
    # The DM target is kept sealed: no table holds it in clear.
    with store.database.reading() as conn:
        sealed = conn.execute(select(subscriptions.c.dm_target)).scalar_one()
        payload = conn.execute(select(notifications.c.payload)).scalar_one()
    assert "dm-channel-of-u1" not in sealed and "dm-channel-of-u1" not in str(payload)


def test_no_corrections_outside_the_window(database_url: str, stores: Callable[..., Store]) -> None:
    store = stores(database_url, clock=lambda: NOW)
    log_answer(store, "a1", quoted=("article:p1s1",), days_ago=3)
    assert store.flush(timeout=30)
    recorder = Recorder()
    asyncio.run(
        notifier(store, recorder, database_url, CORRECTION_WINDOW_DAYS="2").process(
            changes(X_VERDICT)
        )
    )
    assert recorder.sent == []


def test_a_silent_change_tells_no_one(database_url: str, stores: Callable[..., Store]) -> None:
    store = stores(database_url, clock=lambda: NOW)
    log_answer(store, "a1", notes=("fc-x",))
    assert store.flush(timeout=30)
    notes = NoteRepository(store.database, lambda: UserHasher(KEY))
    notes.append("fc-x", "edited", "body", None, "discord", "mod", "mod", notify=True)
    notes.append("fc-x", "edited", "body 2", None, "discord", "mod", "mod", notify=False)
    recorder = Recorder()
    loud = Notifier(store, notes, never_asked, recorder, settings_for(database_url))
    report = asyncio.run(loud.process(changes(X_VERDICT)))
    assert recorder.sent == [] and report.silent == ("fc-x",)
    # The next, loud, revision of the same note is told.
    notes.append("fc-x", "edited", "body 3", None, "discord", "mod", "mod")
    asyncio.run(loud.process(changes(X_VERDICT)))
    assert list(told(recorder)) == ["discord:G1:C1:T1"]


def test_an_answer_that_already_shows_the_change_is_not_corrected(
    database_url: str, stores: Callable[..., Store]
) -> None:
    """An answer logged after the change (it shows the added note, or the new verdict) says
    what a correction would say: only the older answers are told."""
    store = stores(database_url, clock=lambda: NOW)
    log_answer(store, "old-x", notes=("fc-x",), thread="T1")  # accurate, before the change
    log_answer(store, "new-x", notes=("fc-x",), thread="T2", verdict="outdated", days_ago=0)
    log_answer(store, "old-y", quoted=("article:p2s1",), thread="T3")  # before fc-y existed
    log_answer(store, "new-y", notes=("fc-y",), thread="T4", verdict="misleading", days_ago=0)
    assert store.flush(timeout=30)
    recorder = Recorder()
    asyncio.run(notifier(store, recorder, database_url).process(changes(X_VERDICT, Y_ADDED)))
    assert told(recorder) == {"discord:G1:C1:T1": ["fc-x"], "discord:G1:C1:T3": ["fc-y"]}


# ---------------------------------------------------------------------- once, on any host


def test_two_hosts_on_one_database_send_each_notification_once(
    database_url: str, stores: Callable[..., Store]
) -> None:
    """Two processes (their own engines and connection pools) see the same change at once."""
    first, second = stores(database_url), stores(database_url)
    for i in range(12):
        log_answer(first, f"a{i}", thread=f"T{i}", quoted=("article:p1s1",))
    assert first.flush(timeout=30)
    one, two = Recorder(), Recorder()

    async def both() -> None:
        await asyncio.gather(
            notifier(first, one, database_url).process(changes(X_VERDICT, Y_ADDED)),
            notifier(second, two, database_url).process(changes(Y_ADDED, X_VERDICT)),
        )

    asyncio.run(both())
    items = [
        (place.key, item.note_id)
        for place, message in one.sent + two.sent
        if isinstance(message, Correction)
        for item in message.items
    ]
    assert sorted(items) == sorted(
        (f"discord:G1:C1:T{i}", note) for i in range(12) for note in ("fc-x",)
    )


def test_after_the_lease_a_host_takes_over_only_what_its_platforms_can_send(
    database_url: str, stores: Callable[..., Store]
) -> None:
    """A Discord notice whose host stopped between claim and send is taken over by a host that
    runs Discord, never by a Slack-only one (which could only mark it failed)."""
    store = stores(database_url, clock=lambda: NOW)
    log_answer(store, "a1", quoted=("article:p1s1",))
    assert store.flush(timeout=30)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(notifier(store, Recorder(crash=True), database_url).process(changes(X_VERDICT)))
    later = NOW + timedelta(seconds=600)
    settings = settings_for(database_url)
    slack_only, with_discord = Recorder(), Recorder()
    on_slack = Notifier(
        stores(database_url, clock=lambda: later), None, still_refused, slack_only, settings,
        serves=lambda p: p == "slack",
    )  # fmt: skip
    assert asyncio.run(on_slack.resend_stale()) == 0 and slack_only.sent == []
    on_discord = Notifier(
        stores(database_url, clock=lambda: later), None, still_refused, with_discord, settings,
        serves=lambda p: p == "discord",
    )  # fmt: skip
    assert asyncio.run(on_discord.resend_stale()) == 1
    assert told(with_discord) == {"discord:G1:C1:T1": ["fc-x"]}
    assert store.loop.notification_counts() == {("correction", "sent"): 1}


def test_a_restart_between_claim_and_send_sends_once_after_the_lease(
    database_url: str, stores: Callable[..., Store]
) -> None:
    store = stores(database_url, clock=lambda: NOW)
    log_answer(store, "a1", quoted=("article:p1s1",))
    assert store.flush(timeout=30)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(notifier(store, Recorder(crash=True), database_url).process(changes(X_VERDICT)))
    assert store.loop.notification_counts() == {("correction", "claimed"): 1}

    # Restarted at once: the change is seen again, but the claim is still someone's.
    soon = Recorder()
    restarted = notifier(stores(database_url), soon, database_url)
    asyncio.run(restarted.process(changes(X_VERDICT)))
    assert asyncio.run(restarted.resend_stale()) == 0
    assert soon.sent == []

    # Past the lease, two hosts sweep: one of them sends it, once.
    later = NOW + timedelta(seconds=600)
    late_a, late_b = Recorder(), Recorder()

    async def sweep() -> list[int]:
        return list(
            await asyncio.gather(
                notifier(
                    stores(database_url, clock=lambda: later), late_a, database_url
                ).resend_stale(),
                notifier(
                    stores(database_url, clock=lambda: later), late_b, database_url
                ).resend_stale(),
            )
        )

    assert sorted(asyncio.run(sweep())) == [0, 1]
    sent = late_a.sent + late_b.sent
    assert len(sent) == 1 and isinstance(sent[0][1], Correction)
    assert sent[0][1].items[0].note_id == "fc-x"
    assert store.loop.notification_counts() == {("correction", "sent"): 1}


# ---------------------------------------------------------------------- subscribers, for real


@pytest.fixture
def db_service(
    database_url: str, make_settings: Callable[..., Settings]
) -> Iterator[FactBotService]:
    svc = FactBotService.from_settings(make_settings(DATABASE_URL=database_url))
    yield svc
    asyncio.run(svc.aclose())


def test_a_subscribed_refused_question_is_answered_once_after_a_note_is_added(
    db_service: FactBotService, stores: Callable[..., Store]
) -> None:
    service = db_service
    store = stores(service.settings.database_url)
    desk = service.notes
    assert desk is not None

    async def ask(question: str, language: Language) -> Answer:
        return await service.ask(question)

    recorder = Recorder()
    notes = desk.repository
    loop_notifier = Notifier(store, notes, ask, recorder, service.settings)
    service.add_observer(loop_notifier)

    async def scenario() -> NoteSaved:
        refused = await service.ask(REFUSED_NOW)
        assert refused.refused
        place = store.loop.place("discord", "asker", "G1", "C1", "T9")
        store.loop.subscribe(place, "asker", REFUSED_NOW, refused.language, days=30)
        reach = await loop_notifier.reach(None, CLAIM, service.engine.index)
        saved = await desk.save(FORM, ALICE)
        assert isinstance(saved, NoteSaved) and saved.index_version is not None
        report = await loop_notifier.told(saved.index_version)
        assert report is not None and report.subscribers == 1
        # A later edit of the same note tells the subscriber nothing more.
        edited = await desk.save(
            NoteForm(
                FORM.claim, FORM.verdict, FORM.fr + " Bis.", FORM.en + " Again.", FORM.sources
            ),
            ALICE,
            saved.note_id,
        )
        assert isinstance(edited, NoteSaved)
        await loop_notifier.idle()
        # Nobody's answer quoted that sentence yet: no thread to correct.
        assert reach.threads == 0
        return saved

    saved = asyncio.run(scenario())
    answers = [m for _, m in recorder.sent if isinstance(m, AnsweredLater)]
    assert len(answers) == 1
    told_place, notice = recorder.sent[0]
    assert told_place.thread_id == "T9"
    assert isinstance(notice, AnsweredLater) and not notice.answer.refused
    assert saved.note_id in [f.id for f in notice.answer.factchecks]
    assert notice.render_text().startswith(text("loop.answered.title", notice.language))
    assert store.loop.open_subscriptions() == []
    assert store.loop.stats(NOW - timedelta(days=1)).answered_later == 1


def test_an_answer_logged_from_chat_is_corrected_when_its_note_changes_and_silent_is_silent(
    db_service: FactBotService, stores: Callable[..., Store]
) -> None:
    """The question log keeps what the answer quoted (through the real observer), and a
    verdict changed from the desk reaches that thread once; a silent save, nobody."""
    service = db_service
    store = stores(service.settings.database_url)
    desk = service.notes
    assert desk is not None
    recorder = Recorder()

    async def ask(question: str, language: Language) -> Answer:
        return await service.ask(question)

    loop_notifier = Notifier(store, desk.repository, ask, recorder, service.settings)
    service.add_observer(loop_notifier)
    question = "Combien de kilos d'expériences la France devait-elle embarquer sur Chang'e 6 ?"

    async def scenario() -> None:
        answer = await service.ask(question)
        assert answer.factchecks
        request = Request(
            "discord", "member", question, guild="G1", channel="C1", conversation="T7"
        )
        QuestionLog(store).on_outcome(request, answer, 0.1)
        assert store.flush(timeout=30)
        note_id = answer.factchecks[0].id
        form = await desk.form(note_id)
        assert isinstance(form, NoteForm)
        new_verdict = "misleading" if form.verdict != "misleading" else "inaccurate"
        reach = await loop_notifier.reach(note_id, form.claim, service.engine.index)
        assert reach.threads == 1
        silent = await desk.save(
            NoteForm(form.claim, form.verdict, form.fr + " ", form.en + " (typo)", form.sources),
            ALICE,
            note_id,
            notify=False,
        )
        assert isinstance(silent, NoteSaved)
        await loop_notifier.idle()
        assert recorder.sent == []
        changed = await desk.save(
            NoteForm(form.claim, new_verdict, form.fr, form.en, form.sources), ALICE, note_id
        )
        assert isinstance(changed, NoteSaved)
        await loop_notifier.idle()

    asyncio.run(scenario())
    assert len(recorder.sent) == 1
    place, message = recorder.sent[0]
    assert place.thread_id == "T7" and isinstance(message, Correction)
    assert [i.change for i in message.items] == ["verdict"]


# ---------------------------------------------------------------------- members' data


def test_erasure_removes_a_members_subscriptions_hand_offs_and_answer_records(
    database_url: str, stores: Callable[..., Store]
) -> None:
    store = stores(database_url, clock=lambda: NOW)
    log_answer(store, "mine", quoted=("article:p1s1",), user="u1")
    log_answer(store, "theirs", thread="T2", quoted=("article:p1s1",), user="u2")
    assert store.flush(timeout=30)
    place = store.loop.place("discord", "u1", "G1", "C1", "T1")
    store.loop.subscribe(place, "u1", "question mine", "en", answer_id="mine")
    store.loop.open_handoff(place, "u1", "question mine", "en", "mine")
    privacy = MemberPrivacy(store)
    assert privacy.kept_now("discord", "u1").subscriptions == 1
    erased = privacy.erase_now("discord", "u1")
    assert (erased.questions, erased.subscriptions) == (1, 1)
    with store.database.reading() as conn:
        for table in (subscriptions, handoffs):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
        left = conn.execute(select(question_log.c.answer_id)).scalars().all()
    assert left == ["theirs"]
    recorder = Recorder()
    asyncio.run(notifier(store, recorder, database_url).process(changes(X_VERDICT)))
    assert list(told(recorder)) == ["discord:G1:C1:T2"]  # their thread no longer


# ---------------------------------------------------------------------- measured


def test_the_report_shows_the_loop(database_url: str, stores: Callable[..., Store]) -> None:
    """Subscriptions, corrections sent, hand-offs open and the median time to resolve one, in
    one community's report and the host's."""
    opened = stores(database_url, clock=lambda: NOW - timedelta(hours=6))
    store = stores(database_url, clock=lambda: NOW)
    g1 = Community("discord", "G1")
    place = store.loop.place("discord", "u1", "G1", "C1", "T1")
    elsewhere = store.loop.place("discord", "u2", "G2", "C9", "T9")
    first = opened.loop.open_handoff(place, "u1", "who pays for DORN?", "en")
    opened.loop.open_handoff(place, "u1", "and the camera?", "en")
    opened.loop.open_handoff(elsewhere, "u2", "another server's", "en")
    assert store.loop.resolve_handoff(first.public_id, Community("discord", "G2")) is None
    assert store.loop.resolve_handoff(first.public_id, g1) is not None
    assert store.loop.resolve_handoff(first.public_id, g1) is None  # once
    store.loop.subscribe(place, "u1", "who pays for DORN?", "en")
    log_answer(store, "a1", quoted=("article:p1s1",))
    assert store.flush(timeout=30)
    asyncio.run(notifier(store, Recorder(), database_url).process(changes(X_VERDICT)))

    def no_encoding(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        raise AssertionError("no questions to group")

    mine = build_report(store.database, 7, no_encoding, community=g1)
    assert mine.loop is not None
    assert mine.loop.to_json() == {
        "subscriptions": 1,
        "answered_later": 0,
        "corrections_sent": 1,
        "answers_sent": 0,
        "handoffs_open": 1,
        "handoffs_resolved": 1,
        "median_resolution_hours": pytest.approx(6.0, abs=0.01),
    }
    assert "1 moderator request(s) open" in "\n".join(loop_lines(mine.loop, "en"))
    host = build_report(store.database, 7, no_encoding, community=None)
    assert host.loop is not None and host.loop.handoffs_open == 2
    assert "Follow-up:" in host.render_text()


def test_a_sealed_dm_target_opens_with_the_host_key_only() -> None:
    hasher = UserHasher(KEY)
    sealed = hasher.seal("D0123456789")
    assert "D0123456789" not in sealed and sealed != hasher.seal("D0123456789")  # a nonce each
    assert hasher.unseal(sealed) == "D0123456789"
    assert UserHasher(b"another-key-long-enough-0123456789").unseal(sealed) is None
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    assert hasher.unseal(tampered) is None
    assert hasher.unseal("not base64 at all!") is None
