"""Word-by-word French → English glossing of questions (index/glossary.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from index.glossary import GLOSSARY_PATH, Glossary, _words, default_glossary
from index.text import fold

SMALL = Glossary(
    {
        "combien": "how many",
        "de": "of",
        "la": "the",
        "le": "the",
        "l'": "the",
        "d'": "of",
        "veut": "wants",
        "elle": "she",
        "envoyer": "send",
        "matériel": "equipment",
        "scientifique": "scientific",
        "agence": "agency",
        "espace": "space",
        "est-ce que": "is it that",
        "états-unis": "United States",
        "pékin": "Beijing",
    }
)


def test_words_are_glossed_and_unknown_words_pass_through() -> None:
    assert (
        SMALL.gloss("Combien de kilos de matériel la France veut-elle envoyer ?")
        == "how many of kilos of equipment the France wants she send"
    )


def test_elisions_are_split_and_glossed() -> None:
    assert SMALL.gloss("l'espace d'abord") == "the space of abord"


def test_accents_and_inflections_are_forgiven() -> None:
    # Accent-folded match ("pekin"), then the French stem ("agences", "scientifiques").
    assert SMALL.gloss("pekin agences scientifiques") == "Beijing agency scientific"


def test_phrases_and_hyphenated_names() -> None:
    assert SMALL.gloss("Est-ce que les États-Unis") == "is it that les United States"


def test_names_with_an_apostrophe_are_not_elisions() -> None:
    assert SMALL.gloss("Chang'e 6") == "Chang'e 6"


def test_short_words_are_not_matched_by_stem() -> None:
    # "les" is absent; a 3-letter word must not be conflated with anything by its stem.
    assert SMALL.lookup("les") is None


def test_the_bundled_glossary_is_well_formed() -> None:
    lines = [
        line
        for line in GLOSSARY_PATH.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    bad = [line for line in lines if line.count("\t") != 1 or line != line.strip()]
    assert bad == []
    french = [line.split("\t")[0] for line in lines]
    assert len(french) == len(set(french)), "a French form is listed twice"
    assert len(default_glossary()) >= 2000


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Combien de kilos ?", "how many"),
        ("Quand la sonde a-t-elle décollé ?", "when"),
        ("Qui dirigeait l'agence ?", "who"),
        ("Pourquoi Pékin ?", "Beijing"),
    ],
)
def test_the_bundled_glossary_reads_common_questions(question: str, expected: str) -> None:
    assert expected in default_glossary().gloss(question)


def test_comments_and_blank_lines_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "g.tsv"
    path.write_text("# a comment\n\nchien\tdog\nchat\t\n", encoding="utf-8")
    glossary = Glossary.load(path)
    assert len(glossary) == 1
    assert glossary.gloss("le chien") == "le dog"


def test_words_found_without_the_cache_are_glossed_as_before() -> None:
    """`gloss` reads a word's exact and folded forms itself before asking `lookup` (and its
    cache): the same gloss as a `lookup` of every word."""
    glossary = default_glossary()
    rng = random.Random(4)
    words = [*list(glossary.exact)[:300], "Chang'e", "L'ESPACE", "Pékin", "lancées", "SVOM", "?"]
    words += ["ÉTÉ", "ﬁn", "İl", "straße", "qu'est-ce", "a-t-elle", "12", "kg", "\ufdfa", "´", "ΑΣ"]
    for _ in range(3_000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 10)))
        assert glossary.gloss(text) == _gloss_by_lookup(glossary, text), text


def _gloss_by_lookup(glossary: Glossary, text: str) -> str:
    """`Glossary.gloss` as first written: one `lookup` per word."""
    words = _words(text)
    folded = [fold(w) for w in words]
    out: list[str] = []
    i = 0
    while i < len(words):
        starts = folded[i].partition(" ")[0] in glossary.phrase_starts
        longest = min(5, glossary.longest, len(words) - i) if starts else 1
        for n in range(longest, 0, -1):
            hit = (
                glossary.folded.get(" ".join(folded[i : i + n]))
                if n > 1
                else glossary.lookup(words[i])
            )
            if hit is not None:
                out.append(hit)
                i += n
                break
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)
