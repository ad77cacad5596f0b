"""Members' data rights in the core (bot/learning/privacy.py) and `factbot forget`, on real databases."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli.commands import main
from bot.learning.privacy import Erased, MemberPrivacy, erased_line, kept_lines
from bot.settings import Settings
from bot.storage import Database, Store, VoteOutcome
from bot.storage.hashing import UserHasher, load_key
from bot.storage.notes import NoteRepository
from bot.storage.schema import note_revisions
from tests.learning_support import KEY, questions, votes


def fill(store: Store) -> dict[str, str]:
    """Alice and Bob on Discord, and a Slack member with Alice's id: answer ids by asker."""
    ids = {
        who: store.log_question(
            platform=platform, user_id=uid, question=f"question of {who}", outcome="refused"
        )
        for who, platform, uid in (
            ("alice", "discord", "111"),
            ("alice-2", "discord", "111"),
            ("bob", "discord", "222"),
            ("slack-111", "slack", "111"),
        )
    }
    assert store.flush(timeout=30)
    assert store.record_vote(ids["bob"], "111", -1, "alice on bob's") is VoteOutcome.RECORDED
    assert store.record_vote(ids["alice"], "222", 1) is VoteOutcome.RECORDED  # bob on alice's
    assert store.record_vote(ids["slack-111"], "111", 1) is VoteOutcome.RECORDED
    return ids


def test_a_member_is_told_what_is_kept_and_erases_only_theirs(database_url: str) -> None:
    store = Store(Database(database_url), UserHasher(KEY), interval=0.02, retention_days=30)
    assert store.start(wait=30)
    try:
        ids = fill(store)
        privacy = MemberPrivacy(store)
        kept = asyncio.run(privacy.kept("discord", "111"))
        assert (kept.questions, kept.votes, kept.subscriptions) == (2, 1, 0)
        assert kept.retention_days == 30 and kept.logging
        lines = kept_lines(kept, "fr")
        assert lines[0].startswith("Ce que factbot garde sur vous : 2 question(s), 1 vote(s)")
        assert "30 jours" in lines[1]

        erased = asyncio.run(privacy.erase("discord", "111"))
        assert erased == Erased(questions=2, votes=1)
        assert erased_line(erased, "en") == "Erased: 2 question(s), 1 vote(s), 0 subscription(s)."
        assert [q["answer_id"] for q in questions(store)] == [ids["bob"], ids["slack-111"]]
        # Bob's vote on alice's answer went with it; the Slack member is another person.
        assert votes(store) == [(ids["slack-111"], 1, None)]
        assert asyncio.run(privacy.erase("discord", "111")) == Erased(0, 0)
    finally:
        store.close()


def test_factbot_forget_erases_one_member_and_keeps_their_published_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'factbot.db'}"
    key_file = tmp_path / "var" / "user-hash.key"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("USER_HASH_KEY_FILE", str(key_file))
    settings = Settings.from_mapping({"DATABASE_URL": url, "USER_HASH_KEY_FILE": str(key_file)})
    hasher = UserHasher(load_key(settings.user_hash_key, settings.user_hash_key_file))
    store = Store(Database(url), hasher, interval=0.02)
    assert store.start(wait=30)
    ids = fill(store)
    store.close()
    notes = NoteRepository(Database(url), lambda: hasher)
    notes.append("fc-x", "added", "body", None, "discord", "111", "alice")
    notes.database.dispose()
    env_file = str(tmp_path / "none.env")

    assert main(["--env-file", env_file, "forget", "111", "--platform", "discord"]) == 0
    out = capsys.readouterr().out.strip()
    assert "\n" not in out and "111" not in out
    assert out.startswith("discord user#")
    assert "erased 2 question(s) and 1 vote(s), 0 subscription(s)" in out
    assert "1 note revision(s) they made as a moderator kept" in out

    check = Store(Database(url), hasher)
    try:
        assert [q["answer_id"] for q in questions(check)] == [ids["bob"], ids["slack-111"]]
        with check.database.reading() as conn:
            (author,) = conn.execute(select(note_revisions.c.author_name)).scalars()
        assert author == "alice"
    finally:
        check.close()

    assert main(["--env-file", env_file, "forget", "<@111>", "--platform", "discord"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("factbot: USER_ID must be a discord user id") and "\n" not in err
