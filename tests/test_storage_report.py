"""The moderators' report on real databases and the real embedding model: totals, and the
refused questions and downvoted answers grouped by meaning, most frequent first."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from bot.cli.commands import main
from bot.community import Community
from bot.learning.grouping import group_similar, phrasing_key
from bot.learning.report import Report, build_report, question_encoder
from bot.settings import Settings
from bot.storage import Database, Store
from bot.storage.hashing import UserHasher

NOW = datetime.now(UTC)

CHANGE_7 = [
    ("When will Chang'e 7 launch?", "en"),
    ("When will Chang'e 7 launch?", "en"),
    ("when will Chang'e 7 launch", "en"),  # the same phrasing
    ("Quand la mission Chang'e 7 sera-t-elle lancée ?", "fr"),
    ("C'est quand le lancement de Chang'e 7 ?", "fr"),
    ("When does the Chang'e 7 mission launch?", "en"),
]
WEATHER = [
    ("What is the weather in Paris today?", "en"),
    ("What's the weather like in Paris today?", "en"),
    ("What is the weather in Paris today ?", "en"),
]
BUDGET = [("Quel est le budget du Cnes ?", "fr"), ("What is CNES's budget?", "en")]
WORLD_CUP = [("Who won the football world cup in 2018?", "en")]
# Answered, then voted: (question, language, [(voter, vote, reason)])
VOTED: list[tuple[str, str, list[tuple[str, int, str | None]]]] = [
    (
        "How many kilograms of French experiments were on Chang'e 6?",
        "en",
        [("u1", -1, "wrong weight"), ("u2", 1, None)],
    ),
    ("How many kilos of French experiments flew on Chang'e 6?", "en", [("u1", -1, None)]),
    (
        "Combien de kilos d'expériences françaises sur Chang'e 6 ?",
        "fr",
        [("u3", -1, "chiffre faux"), ("u4", -1, "chiffre faux")],
    ),
    ("Quand SVOM a-t-il été lancé ?", "fr", [("u5", -1, None)]),
    ("Who is the president of CNES?", "en", [("u6", 1, None)]),
]


@pytest.fixture(scope="module")
def encode() -> Callable[[Sequence[str]], npt.NDArray[np.float32]]:
    """The bot's own question encoding: the real bundled model, French through its gloss."""
    return question_encoder(Settings.from_mapping({}))


@pytest.fixture
def filled(database_url: str) -> Iterator[Database]:
    store = Store(Database(database_url), UserHasher(b"k" * 32), interval=0.02)
    assert store.start(wait=30)

    def ask(question: str, language: str, outcome: str, days_ago: float = 1, **kw: Any) -> str:
        return store.log_question(
            platform="discord",
            user_id="someone",
            question=question,
            outcome=outcome,
            language=language,
            asked_at=NOW - timedelta(days=days_ago),
            **kw,
        )

    for i, (question, language) in enumerate(CHANGE_7 + WEATHER + BUDGET + WORLD_CUP):
        ask(question, language, "refused", days_ago=1 + i / 100)
    ask("Who won the football world cup in 2018?", "en", "refused", days_ago=10)  # too old
    ask("", "en", "rejected", reason="empty question")
    answers = [(ask(q, lang, "answered"), votes) for q, lang, votes in VOTED]
    ask("Quand SVOM a-t-il été lancé ?", "fr", "answered", days_ago=12)  # too old
    assert store.flush(timeout=30)
    for answer_id, votes in answers:
        for voter, vote, reason in votes:
            store.record_vote(answer_id, voter, vote, reason)
    store.close()
    database = Database(database_url)
    yield database
    database.dispose()


def test_report_totals_and_groups(
    filled: Database, encode: Callable[[Sequence[str]], npt.NDArray[np.float32]]
) -> None:
    report = build_report(filled, 7, encode, community=None, now=NOW)
    t = report.totals
    assert (t.questions, t.answered, t.refused, t.rejected) == (18, 5, 12, 1)
    assert (t.upvotes, t.downvotes) == (2, 5)
    assert t.by_language == {
        "en": {"questions": 13, "answered": 3, "refused": 9, "rejected": 1},
        "fr": {"questions": 5, "answered": 2, "refused": 3, "rejected": 0},
    }

    refused = [(g.count, g.example, set(g.languages)) for g in report.refused]
    assert refused == [
        (6, "When will Chang'e 7 launch?", {"en", "fr"}),
        (3, WEATHER[0][0], {"en"}),
        (2, refused[2][1], {"en", "fr"}),
        (1, WORLD_CUP[0][0], {"en"}),
    ]
    assert refused[2][1] in {q for q, _ in BUDGET}

    down = report.downvoted
    assert [(g.count, g.downvotes, g.upvotes) for g in down] == [(3, 4, 1), (1, 1, 0)]
    assert set(down[0].languages) == {"en", "fr"}
    assert set(down[0].reasons) == {"wrong weight", "chiffre faux"}  # each reason once
    assert down[1].example == "Quand SVOM a-t-il été lancé ?"

    as_json = report.to_json()
    assert json.loads(json.dumps(as_json)) == as_json
    assert as_json["refused"][0]["count"] == 6
    text = report.render_text()
    assert "Questions: 18 (answered 5, refused 12, rejected 1)" in text
    assert "« When will Chang'e 7 launch? »" in text
    assert text.index("Chang'e 7") < text.index("weather")  # most frequent first


def test_a_community_sees_only_its_own_questions_and_votes(
    database_url: str, encode: Callable[[Sequence[str]], npt.NDArray[np.float32]]
) -> None:
    """Server A's report holds none of server B's refusals or downvotes, nor any DM."""
    store = Store(Database(database_url), UserHasher(b"k" * 32), interval=0.02)
    assert store.start(wait=30)
    try:
        rows = [
            ("A", "When will Chang'e 7 launch?", "refused"),
            ("B", "What is the weather in Paris today?", "refused"),
            (None, "Who won the football world cup in 2018?", "refused"),  # a DM
            ("A", "How many kilos of French experiments flew on Chang'e 6?", "answered"),
            ("B", "Quand SVOM a-t-il été lancé ?", "answered"),
        ]
        ids = {
            q: store.log_question(
                platform="discord",
                user_id="u1",
                question=q,
                outcome=outcome,
                language="en",
                guild_id=guild,
                channel_id=f"chan-{guild}" if guild else "dm-channel",
            )
            for guild, q, outcome in rows
        }
        assert store.flush(timeout=30)
        for q in (rows[3][1], rows[4][1]):
            assert store.record_vote(ids[q], "u2", -1, f"wrong: {q[:10]}") is not None
        # Slack team ids never match a Discord server's, even with the same text.
        assert store.log_question(
            platform="slack", user_id="U1", question="Slack A?", outcome="refused", guild_id="A"
        )
        assert store.flush(timeout=30)
    finally:
        store.close()
    database = Database(database_url)
    try:
        mine = build_report(database, 7, encode, community=Community("discord", "A"))
        everything = build_report(database, 7, encode, community=None)
    finally:
        database.dispose()
    assert [g.example for g in mine.refused] == ["When will Chang'e 7 launch?"]
    assert [g.example for g in mine.downvoted] == [rows[3][1]]
    assert (mine.totals.questions, mine.totals.refused, mine.totals.downvotes) == (2, 1, 1)
    assert mine.to_json()["scope"] == {"platform": "discord", "community": "A"}
    assert "Scope: discord server A" in mine.render_text()
    assert everything.totals.questions == 6 and everything.totals.downvotes == 2


def test_an_empty_period_never_loads_the_model(database_url: str) -> None:
    def refuse(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        raise AssertionError("nothing to group: the encoder must not be called")

    database = Database(database_url)
    report = build_report(database, 30, refuse, community=None)
    database.dispose()
    assert report.totals.questions == 0 and report.refused == () and report.downvoted == ()
    assert "Refused questions: none" in report.render_text()


def test_grouping_keeps_distinct_questions_apart(
    encode: Callable[[Sequence[str]], npt.NDArray[np.float32]],
) -> None:
    texts = [q for q, _ in CHANGE_7 + WEATHER + BUDGET + WORLD_CUP]
    groups = group_similar(texts, encode)
    assert sorted(len(g) for g in groups) == [1, 2, 3, 6]
    assert phrasing_key("  When will Chang’E 7 launch ?? ") == "when will chang'e 7 launch"


def test_factbot_report_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'factbot.db'}"
    store = Store(Database(url), UserHasher(b"k" * 32))
    assert store.start(wait=30)
    # Two workspaces and a DM: the operator on the host sees them all, and is told so.
    for team, (question, language) in zip(
        ("T1", "T1", "T2", None), WEATHER + WORLD_CUP, strict=True
    ):
        store.log_question(
            platform="slack",
            user_id="U1",
            question=question,
            outcome="refused",
            language=language,
            guild_id=team,
        )
    store.close()
    monkeypatch.setenv("DATABASE_URL", url)
    env_file = str(tmp_path / "none.env")

    assert main(["--env-file", env_file, "report", "--days", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["days"] == 3 and out["totals"]["refused"] == 4
    assert [g["count"] for g in out["refused"]] == [3, 1]
    assert out["scope"] == "all"

    assert main(["--env-file", env_file, "report"]) == 0
    text = capsys.readouterr().out
    assert "last 7 day(s)" in text and "Refused questions: 4 in 2 group(s)" in text
    assert "Scope: every server, workspace and direct message (the host's view)" in text

    assert main(["--env-file", env_file, "report", "--days", "0"]) == 2
    assert "--days must be at least 1" in capsys.readouterr().err


def test_factbot_report_on_an_unusable_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{blocker / 'factbot.db'}")
    assert main(["--env-file", str(tmp_path / "none.env"), "report"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("factbot: cannot use the SQLite database") and "\n" not in err
    assert "Traceback" not in err

    monkeypatch.setenv("DATABASE_URL", "mysql://nobody@localhost/x")
    assert main(["--env-file", str(tmp_path / "none.env"), "report"]) == 1
    assert "not supported" in capsys.readouterr().err


def test_report_renders_every_group_in_json_and_caps_text(
    encode: Callable[[Sequence[str]], npt.NDArray[np.float32]], tmp_path: Path
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'r.db'}")
    store = Store(database, UserHasher(b"k" * 32))
    assert store.start(wait=30)
    topics = [
        "What is the capital of Peru?",
        "How do I bake bread?",
        "Who wrote Hamlet?",
        "What's the best pizza topping?",
        "Is it going to rain tomorrow?",
    ]
    for topic in topics:
        store.log_question(platform="discord", user_id=1, question=topic, outcome="refused")
    store.flush()
    report: Report = build_report(database, 7, encode, community=None)
    store.close()
    assert sum(g.count for g in report.refused) == len(topics)
    assert "more group(s)" in report.render_text(limit=2)
