"""Units: settings, cooldown, log redaction, sentence splitting."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from bot.logs import RedactSecrets
from bot.serving.ratelimit import Cooldown
from bot.settings import Settings, SettingsError
from index.text import content_words, find_normalized, split_sentences
from tests.conftest import ROOT


def test_settings_defaults_and_parsing() -> None:
    s = Settings.from_mapping(
        {
            "DISCORD_TOKEN": "secret-token-value",
            "DISCORD_GUILD_IDS": "1, 2;3",
            "SLACK_MODERATOR_IDS": "U1,U2",
            "MAX_QUESTION_CHARS": "300",
        }
    )
    assert s.discord_guild_ids == (1, 2, 3)
    assert s.slack_moderator_ids == ("U1", "U2")
    assert s.max_question_chars == 300
    assert s.discord_enabled and not s.slack_enabled
    assert "secret-token-value" not in repr(s)
    assert s.secrets() == ("secret-token-value",)
    with pytest.raises(AttributeError):
        s.top_k = 5  # type: ignore[misc]


def test_settings_errors_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="DISCORD_GUILD_IDS"):
        Settings.from_mapping({"DISCORD_GUILD_IDS": "abc"})
    with pytest.raises(SettingsError, match="TOP_K must be at least 1"):
        Settings.from_mapping({"TOP_K": "0"})


def test_env_file_is_read_and_process_env_wins(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("TOP_K=4\nMAX_QUESTION_CHARS=200\n", encoding="utf-8")
    s = Settings.load(env, environ={"TOP_K": "2"})
    assert s.top_k == 2 and s.max_question_chars == 200


def test_env_example_documents_every_setting() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    source = (ROOT / "bot" / "settings.py").read_text(encoding="utf-8")
    names = {
        n.value
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and n.value.isupper()
        and "_" in n.value
    }
    missing = sorted(n for n in names if f"\n{n}=" not in example)
    assert not missing


def test_cooldown_bucket() -> None:
    now = [0.0]
    cd = Cooldown(per_seconds=10, burst=2, clock=lambda: now[0])
    assert cd.hit("u") == 0.0 and cd.hit("u") == 0.0
    wait = cd.hit("u")
    assert wait == pytest.approx(20.0)  # the refused call is charged too
    assert cd.hit("other") == 0.0
    now[0] = 20.0
    assert cd.hit("u") == 0.0
    assert Cooldown(per_seconds=0).hit("u") == 0.0


def test_secrets_are_redacted_from_logs(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redact")
    handler = logging.Handler()
    records: list[str] = []
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(RedactSecrets(["xoxb-very-secret"]))
    logger.addHandler(handler)
    try:
        logger.warning("token %s rejected", "xoxb-very-secret")
    finally:
        logger.removeHandler(handler)
    assert records == ["token [redacted] rejected"]


def test_sentence_splitting_keeps_quotes_and_initials() -> None:
    text = 'C\'est officiel ! Le président a dit: " Nous irons en 2023 ". J. Smith est là. Fin.'
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "C'est officiel !",
        'Le président a dit: " Nous irons en 2023 ".',
        "J. Smith est là.",
        "Fin.",
    ]


def test_claim_matching_tolerates_apostrophes_and_returns_original_span() -> None:
    text = "la future mission Chang’e 6 qui ira"
    span = find_normalized(text, "mission Chang'e 6")
    assert span is not None and text[span[0] : span[1]] == "mission Chang’e 6"


def test_content_words_fold_stem_and_units() -> None:
    assert (
        content_words("Combien de kilos d'expériences ?") == content_words("15 kg expérience")[1:]
    )
    assert "pekin" in content_words("Pékin")
