"""The near-miss check (bot/answering/focus.py) on the real index, with chat-style questions.

Refusals are checked as carefully as answers: every in-scope question of the dev and held-out
sets, and chat-typed in-scope questions with typos, markup and abbreviations, must pass.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from bot.answering.chattext import (
    _ELIDED,
    _SPELL_TOKEN,
    clean_chat,
    differs_only_at_the_end,
    edits1,
    typo_candidates,
)
from bot.answering.focus import CorpusFocus
from bot.answering.lexicon import (
    DERIVED,
    ELISION,
    TOKEN,
    load_lexicon,
    question_tokens,
    word_stems,
)
from index.glossary import default_glossary
from index.lru import LruCache
from index.store import IndexStore
from index.text import fold, plain_quotes

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def focus(prebuilt_index: Path) -> CorpusFocus:
    index = IndexStore(prebuilt_index).load()
    return CorpusFocus.from_index(index, load_lexicon(prebuilt_index / DERIVED))


def ask(focus: CorpusFocus, message: str) -> str | None:
    """The focus verdict on a chat message as the intake would see it (cleaned, typos fixed)."""
    miss = focus.check(focus.correct(clean_chat(message)))
    return None if miss is None else miss.reason


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("chang'e 8 ca part qd ??", "designation:Chang'e 8"),
        ("<@U0123> and what abt chang'e 5, how much did it bring back", "designation:Chang'e 5"),
        ("shenzhou 12 c t qui l'equipage", "designation:Shenzhou 12"),
        ("apollo 11 it landed where again 🌕", "designation:Apollo 11"),
        ("c quoi le programme artemis stp", "name:artemis"),
        ("spacex is gonna go to the moon too??", "name:spacex"),
        ("**blue origin** ou **spacex**, qui va sur la lune en premier ?", "name:spacex"),
        ("thomas pesquet il a quel age svp", "fact:Thomas Pesquet:age"),
        ("where was xi jinping born?", "fact:Xi Jinping:birth"),
        ("combien a coute DORN ?", "fact:DORN:cost"),
        ("how much did the cardiospace device cost", "fact:Cardiospace 2:cost"),
        ("c quoi la population de pekin", "fact::population"),
        ("il fait quel temps a xichang ? 🌧️", "fact:Xichang:weather"),
        ("how many ppl live in beijing", "fact::population"),
        ("chang'e 4 elle a alunit en quelle annee ?", "fact:Chang'e 4:date"),
        ("how long did pesquet stay up there in 2021?", "fact:Thomas Pesquet:duration"),
    ],
)
def test_near_misses_are_refused_with_what_is_not_covered(
    focus: CorpusFocus, message: str, reason: str
) -> None:
    assert ask(focus, message) == reason


@pytest.mark.parametrize(
    "message",
    [
        "**chang'e 6** elle part qd ?",
        "chnage 6 a ramene cb de grammes ??",
        "pesqet il parle chinois ?",
        "did svom rly lauch in 2021 tho",
        "c quoi le titre de l'artcile",
        "cardiospace 2 ca sert a quoi 🫀",
        "tiangong 2 embarque du matos francais depuis qd ?",
        "how heavy was DORN?",
        "when did DORN stop working on the surface",
        "the frenchman who learnt chinese, who's that",
        "the apollo basin is where chang'e 6 landed?",
        "et les US dans tout ca ? 🇺🇸",
        "is the 32% pollution thing still true today?",
        "`SVOM` c'etait prevu pour qd ?",
        "did china rly cut its carbon footprint lol",
        "qui etait le boss du cnes en 2019 ?",
        "when did chang'e 6 come back to earth",
    ],
)
def test_chat_typed_in_scope_questions_pass(focus: CorpusFocus, message: str) -> None:
    assert ask(focus, message) is None


def test_no_in_scope_dev_or_heldout_question_is_refused(focus: CorpusFocus) -> None:
    refused = []
    for name in ("questions.jsonl", "heldout.jsonl"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["kind"] != "out_of_scope" and ask(focus, row["question"]) is not None:
                refused.append((row["id"], ask(focus, row["question"])))
    assert refused == []


def test_typos_of_corpus_and_everyday_words_are_fixed_names_are_kept(focus: CorpusFocus) -> None:
    assert focus.correct("pesqet") == "pesquet"
    assert focus.correct("did svom lauch") == "did svom launch"
    assert focus.correct("l'artcile") == "l'article"
    assert focus.correct("qunad part chang'e 6") == "quand part chang'e 6"
    # Names, words right as they are, and elided words that are one word stay as typed.
    for kept in ("spacex", "artemis", "chang'e", "aujourd'hui", "pesait", "center"):
        assert focus.correct(kept) == kept


def test_entities_are_written_as_the_corpus_writes_them(focus: CorpusFocus) -> None:
    assert focus.entities("quand part chang'e 6 ?") == ("Chang'e 6",)
    assert focus.entities("c quoi svom") == ("SVOM",)
    assert "Thomas Pesquet" in focus.entities("pesquet parle chinois ?")
    assert focus.entities("tiangong 2 c quoi") == ("Tiangong-2",)
    assert focus.entities("and the united states?") == ("United States",)
    assert focus.entities("et elle part quand ?") == ()


def test_messages_name_what_is_not_covered(focus: CorpusFocus) -> None:
    miss = focus.check("et chang'e 8 ?")
    assert miss is not None
    assert miss.message("fr") == "L'article ne parle pas de Chang'e 8."
    assert miss.message("en") == "The article does not cover Chang'e 8."
    age = focus.check("how old is thomas pesquet")
    assert age is not None
    assert (
        age.message("en")
        == "The article and its fact-checks do not give the age of Thomas Pesquet."
    )
    assert (
        age.message("fr")
        == "L'article et ses vérifications ne donnent pas l'âge de Thomas Pesquet."
    )


def test_what_the_corpus_holds_decides_not_a_list(focus: CorpusFocus) -> None:
    """A corpus that gives an age or a cost answers those questions: the kinds come from text."""
    extra = CorpusFocus.from_texts(
        [
            "Thomas Pesquet, 45 ans, a appris le chinois.",
            "Le satellite SVOM a coûté 100 millions d'euros.",
            "Chang'e 8 partira en 2028.",
        ]
    )
    assert extra.check("thomas pesquet il a quel age") is None
    assert extra.check("how much did svom cost") is None
    assert extra.check("chang'e 8 part quand") is None
    miss = extra.check("chang'e 7 part quand")
    assert miss is not None and miss.subject == "Chang'e 7"


@pytest.mark.parametrize(
    "message",
    [
        "what is the french scientific payload planned for the probe?",
        "where is the launchpad?",
        "is there a website for the mission?",
        "l'alunisseur de chang'e 6 pese combien ?",
    ],
)
def test_a_word_the_dictionary_lacks_is_not_a_name(focus: CorpusFocus, message: str) -> None:
    # Issue 22: compounds of dictionary words and French derivations are words; only evidence
    # (a name the corpus lacks) refuses.
    assert focus.check(message) is None, message
    assert focus.check("le programme artemis ramene des astronautes quand ?") is not None
    assert focus.check("How many moons does Jupiter have?") is not None


def _is_typo_one_by_one(focus: CorpusFocus, token: str) -> bool:
    """`CorpusFocus.is_typo` as first written: its edits made and stemmed one by one."""
    if typo_candidates(token, focus.vocabulary) or typo_candidates(token, focus.lexicon.common):
        return True
    if len(token) >= 8 and typo_candidates(token, focus.lexicon.english):
        return True
    return len(token) >= 6 and any(
        e[0] == token[0] and any(s in focus.lexicon.common_stems for s in word_stems(e))
        for e in edits1(token)
        if len(e) >= len(token) and not differs_only_at_the_end(token, e)
    )


@pytest.mark.parametrize(
    "token",
    ["rameen", "artemis", "spacex", "chandrayaan", "fahrenheit", "lauch", "pesqet", "decolage"],
)
def test_typos_are_told_as_before_their_edits_stemmed_in_one_batch(
    focus: CorpusFocus, token: str
) -> None:
    assert focus.is_typo(token) == _is_typo_one_by_one(focus, token)
    assert focus.is_typo(token) == focus.is_typo(token)  # remembered: the same verdict


def test_the_per_word_and_per_text_caches_are_bounded_in_bytes(focus: CorpusFocus) -> None:
    """Each is keyed on what users type: long words fill them by bytes, not by entries."""
    for i in range(400):
        word = f"zq{i}" + "x" * 20_000  # longer than any question: a direct caller
        focus.is_known(word)
        focus.entities(f"zq{chr(97 + i % 26)}{chr(97 + i // 26)}" + "-x" * 10_000 + " ?")
        default_glossary().lookup(word)
        focus.is_typo(f"zq{i}yy")
        focus.speller.suggest(f"pesqet{'x' * (i % 5)}")
    filled_by_bytes: list[LruCache[str, Any]] = [
        focus._known.cache,
        focus._named.cache,
        default_glossary()._glosses.cache,
    ]
    for cache in (*filled_by_bytes, focus._typo.cache, focus.speller._fixes.cache):
        assert cache.max_bytes is not None and 0 < cache.bytes <= cache.max_bytes
        assert len(cache) < 400 or cache not in filled_by_bytes


def _correct_word_by_word(focus: CorpusFocus, text: str) -> str:
    """`CorpusFocus.correct` as first written: every word looked up as it is replaced."""

    def fix(match: re.Match[str]) -> str:
        token = match.group(0)
        if "'" in token or "’" in token:
            elided = _ELIDED.match(token)
            if elided is None:
                return token
            head, rest = token[: elided.end()], token[elided.end() :]
            return head + (focus.speller.suggest(rest) or rest)
        return focus.speller.suggest(token) or token

    return _SPELL_TOKEN.sub(fix, text)


def _question_tokens_one_by_one(folded: str) -> list[str]:
    """`question_tokens` as first written: every token's elision and possessive looked for."""
    out = []
    for token in TOKEN.findall(folded):
        token = ELISION.sub("", token)
        if token.endswith("'s"):
            token = token[:-2]
        if token:
            out.append(token)
    return out


def _unknown_names_word_by_word(focus: CorpusFocus, folded: str) -> tuple[str, ...]:
    """`CorpusFocus._unknown_names` as first written: every word asked of `is_known`."""
    out: list[str] = []
    for token in _question_tokens_one_by_one(folded):
        parts = [p for p in token.split("-") if p] if "-" in token else [token]
        for part in parts:
            if len(part) < 3 or part in out or focus.is_known(part) or focus.is_typo(part):
                continue
            out.append(part)
    return tuple(out)


# Words of questions: corpus and everyday words, typos of them, names, elisions, hyphenated
# inversions and names, designations, accents, capitals, typographic apostrophes and the
# characters whose folding is not one character for one.
_WORDS = (
    *"whre earh sapce quand combien lancé lancee lauch pesqet artcile qunad svom".split(),
    *"Chang'e chang’e Tiangong-2".split(),
    *"l'article d’echantillons qu'est-ce a-t-il jusqu'ici nasa's SpaceX artemis ISS Pékin".split(),
    *"UNITED STATES united states global carbon project apollo 11 Chang'e 8 Cardiospace".split(),
    *("ﬁnd", "ǆungle", "ŉot", "İstanbul", "straße", "ſtation", "\ufdfa", "é\u0301t\u00e9"),
    *("décoller", "lune", "moon", "the", "et", "1ère", "x", "of", "?", ",", " ", "'", "-"),
)


def test_the_fast_paths_of_reading_a_question_change_no_result(focus: CorpusFocus) -> None:
    """The speller looks at a message's distinct words in bulk before replacing any, the
    near-miss check settles known words and word-less tokens with set look-ups, and
    `question_tokens` takes a text without apostrophe as found: the same results as before."""
    rng = random.Random(11)
    for _ in range(5_000):
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 12)))
        folded = fold(plain_quotes(text))
        assert focus.correct(text) == _correct_word_by_word(focus, text), text
        assert question_tokens(folded) == _question_tokens_one_by_one(folded), text
        assert focus._unknown_names(folded) == _unknown_names_word_by_word(focus, folded), text
