"""Chat text made readable (bot/answering/chattext.py): markup, mentions, emoji, abbreviations, language."""

from __future__ import annotations

import json
import random
import re
import unicodedata
from pathlib import Path

import pytest

from bot.answering import chattext, language
from bot.answering.chattext import ABBREVIATIONS, clean_chat, edits1, typo_candidates
from bot.answering.language import detect_language
from bot.answering.language import detect_language as detect_chat_language
from index.text import _TYPOGRAPHIC, fold, plain_quotes

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("message", "clean"),
    [
        ("<@U07FB0T2K9Q> c quoi svom ?", "c'est quoi svom ?"),
        ("<@!123456789012345678> **which** agencies?? 🚀", "which agencies??"),
        ("<#C024BE91L|general> `SVOM` launched qd", "SVOM launched quand"),
        ("chang'e 6 ramene cb de grammes stp 🙏🏽", "chang'e 6 ramene combien de grammes"),
        ("le president du cnes c t qui ?", "le president du cnes c'était qui ?"),
        ("pk la chine ? <a:party:1234>", "pourquoi la chine ?"),
        ("launched when tho?", "launched when ?"),
        ("how many ppl are on the ISS rn", "how many people are on the ISS right now"),
        (
            "so wiht the US it was about what, mars? 🔴",
            "so with the United States it was about what, mars?",
        ),
        ("see <https://example.org/a|this link> :rocket:", "see this link"),
        ("> quoted\nand ~~this~~ _that_ ||spoiler||", "quoted and this that spoiler"),
        ("👍🏻🇫🇷", ""),
    ],
)
def test_clean_chat(message: str, clean: str) -> None:
    assert clean_chat(message) == clean


@pytest.mark.parametrize(
    ("message", "clean"),
    [("\u017ftp merci", "merci"), ("\u212aoi ?", "quoi ?"), ("\u017fvp c qui", "c'est qui")],
)
def test_abbreviations_the_pattern_folds_to_are_expanded(message: str, clean: str) -> None:
    # The long s and the Kelvin sign match "s" and "k" case-insensitively: the abbreviation
    # they spell is expanded, not a KeyError.
    assert clean_chat(message) == clean


def test_us_the_pronoun_stays_a_pronoun() -> None:
    assert clean_chat("tell us more") == "tell us more"


@pytest.mark.parametrize(
    ("message", "language"),
    [
        ("chang'e 7 decolle qd ?", "fr"),
        ("t'es un bot ?", "fr"),
        ("ok autre chose: pesquet parle chinois ?", "fr"),
        ("c quel instrument francais qui a vraiment flown sur chang'e 6 ?", "fr"),
        ("did the french instrument collect les echantillons itself?", "en"),
        ("a part la chine, france wants to work with who else in space?", "en"),
        ("launched when ?", "en"),
        ("et c'etait ou ?", "fr"),
    ],
)
def test_language_of_chat_text(message: str, language: str) -> None:
    assert detect_chat_language(message) == language


def test_chat_language_detection_is_right_wherever_the_plain_one_is() -> None:
    """On every question of the three sets (cleaned), the chat detector is never worse."""
    plain = chat = 0
    for name in ("chat.jsonl", "questions.jsonl", "heldout.jsonl"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            text = clean_chat(row["question"])
            plain += detect_language(text) == row["language"]
            chat += detect_chat_language(text) == row["language"]
    assert chat >= plain
    assert chat == 250


def test_typo_candidates_keep_names_apart() -> None:
    vocabulary = {"space", "launch", "where", "quand", "change"}
    assert "launch" in edits1("lauch")
    assert typo_candidates("lauch", vocabulary) == {"launch"}
    assert typo_candidates("whre", vocabulary) == {"where"}
    assert typo_candidates("qunad", vocabulary) == {"quand"}
    assert typo_candidates("spacex", vocabulary) == set()  # a name, not "space" plus a typo
    assert typo_candidates("zhange", vocabulary) == set()  # the first letter is kept
    assert typo_candidates("psg", vocabulary) == set()  # too short to tell


def _strip_markup_by_character(text: str) -> str:
    """`strip_markup` as first written: every pattern, then every character looked at."""
    for pattern, repl in (
        (chattext._SLACK_LINK, r" \1 "),
        (chattext._ANGLE_TOKEN, " "),
        (chattext._URL, " "),
        (chattext._AT_ALL, " "),
        (chattext._SHORTCODE, " "),
        (chattext._CODE_FENCE, r" \1 "),
        (chattext._QUOTE_LINE, ""),
        (chattext._MARKUP, ""),
    ):
        text = pattern.sub(repl, text)
    text = "".join(" " if chattext._is_emoji(ch) else ch for ch in text)
    return re.sub(r"\s+", " ", text).strip()


# Every abbreviation in turn, longest first, at every position: the pattern as first written.
_EVERY_ABBREVIATION = re.compile(
    r"(?<![\w'’])("
    + "|".join(re.escape(k) for k in sorted(ABBREVIATIONS, key=len, reverse=True))
    + r")(?![\w'’])",
    re.IGNORECASE,
)


def _abbreviations_by_pattern(text: str) -> str:
    """`expand_abbreviations` with the pattern of every abbreviation in turn."""
    text = chattext._COUNTRY.sub(lambda m: chattext._COUNTRIES[m.group(1).replace(".", "")], text)
    text = chattext._C_EST.sub(lambda m: "c'était" if m.group(0)[-1] in "tT" else "c'est", text)
    text = _EVERY_ABBREVIATION.sub(
        lambda m: next(
            v for k, v in ABBREVIATIONS.items() if re.fullmatch(re.escape(k), m.group(1), re.I)
        ),
        text,
    )
    return re.sub(r"\s+", " ", text).strip()


# Pieces of chat text: markup, mentions, links, emoji and their joiners, white space of every
# kind, abbreviations in both cases, the characters next to which they stop being words.
_PIECES = (
    *ABBREVIATIONS,
    *(k.upper() for k in ABBREVIATIONS),
    *("\u017ftp", "\u212aoi", "p\u212a", "1\u00c8RE", "bOSS\u00c9", "qd\u0301", "\u00e9qd", "_qd"),
    *"/'’‘ʼ“”\"_-.,?!:;@<>*~|`0123456789abcxyzW",
    *("<@U123>", "<https://x.org/a|label>", "https://x.org/b", "@here", ":smile:", "```py\nx```"),
    *("> quoted\n", "**b**", "_i_", "~~s~~", "||s||", "🚀", "👍🏽", "🇫🇷", "\u200d", "\ufe0f", "©"),
    *(" ", "  ", "\t", "\n", "\u00a0", "\u2003", "\x1c", "é", "Ç", "ü", "w/x", "n/a", "c quoi"),
)


def test_the_fast_paths_of_chat_cleaning_change_no_result() -> None:
    """`strip_markup` looks only at non-ASCII characters and skips patterns without their
    marker; abbreviations are found by a tree of their prefixes; `plain_quotes` replaces instead
    of translating: the same text as before."""
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 10)))
        assert chattext.strip_markup(text) == _strip_markup_by_character(text), text
        assert chattext.expand_abbreviations(text) == _abbreviations_by_pattern(text), text
        assert plain_quotes(text) == text.translate(_TYPOGRAPHIC), text


def test_stripping_and_cleaning_a_message_share_one_cache_entry() -> None:
    """The engine cleans a message, then the classify rules strip it: one entry, one miss."""
    chattext.read_chat.cache_clear()  # earlier tests may have filled it to its byte bound
    text = "<@U42> **c quoi** le poids svp ? 🚀 zq-unique"
    assert chattext.read_chat(text) == (chattext.strip_markup(text), chattext.clean_chat(text))
    entries = len(chattext.read_chat.cache)
    chattext.strip_markup(text + " 2")
    chattext.clean_chat(text + " 2")
    assert len(chattext.read_chat.cache) == entries + 1


def test_the_chat_text_caches_are_bounded_in_bytes() -> None:
    """Keyed on messages (read by the engine, then by the classify rules): bounded in bytes."""
    for i in range(400):
        text = f"<@U{i}> **c quoi** svom ? 🚀 " + "x" * 20_000  # longer than any question
        assert clean_chat(text) == chattext.read_chat.function(text)[1]
    for cache in (chattext.read_chat.cache,):
        assert cache.max_bytes is not None and 0 < cache.bytes <= cache.max_bytes
        assert len(cache) < 400


def _fold_by_character(text: str) -> str:
    """`index.text.fold` as first written: every decomposed character looked at."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def test_folding_strips_what_it_stripped_before() -> None:
    """`fold` removes the Latin accents in one pass first: the same text for every character
    (the Basic Multilingual Plane and beyond) and for mixes of letters, accents and symbols."""
    for code in range(0x30000):
        if not 0xD800 <= code <= 0xDFFF:
            assert fold(chr(code)) == _fold_by_character(chr(code)), hex(code)
    rng = random.Random(3)
    letters = [chr(c) for c in (*range(0x20, 0x250), *range(0x300, 0x370), 0x1D165, 0x1F680)]
    for _ in range(20_000):
        text = "".join(rng.choice(letters) for _ in range(rng.randint(1, 20)))
        assert fold(text) == _fold_by_character(text), text


def _language_word_by_word(text: str) -> str:
    """`detect_language` as first written: every word and every accent counted in Python."""
    lower = plain_quotes(text.lower())
    words = re.findall(r"[a-z]+(?:'[a-z]+)?", fold(lower))
    elision = re.compile(r"^(?:l|d|qu|j|n|s|c|t|m)'")
    fr = sum(1.0 for w in words if w in language._FR_WORDS or ("'" in w and elision.match(w)))
    fr += 0.5 * len(re.findall(r"[éèêëàâîïôûùüçœæ]", lower))
    en = sum(1.0 for w in words if w in language._EN_WORDS)
    return "fr" if fr > en else "en"


def test_the_language_counted_in_bulk_is_the_same() -> None:
    """Marker words counted by set look-ups, elisions and accents only looked for where they can
    be: the same language as before."""
    rng = random.Random(9)
    pieces = (*_PIECES, "l'", "qu'", "Ｌ＇", "est", "the", "quand", "what", "é", "ç", "and", "et")
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        assert language.detect_language.function(text) == _language_word_by_word(text), text
