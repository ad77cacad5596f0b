"""The fact-check notes as schema.org ClaimReview JSON-LD (`factbot export claimreview`).

One ClaimReview per note and language (fr, en), each a complete JSON-LD object (`@context`
included) that a web page can embed as is. What goes where (README, "ClaimReview export"):

- `claimReviewed`: the claim as the article states it: the note's French quote, or the aligned
  English sentence(s) of the translation (the sentences the quote falls in);
- `itemReviewed`: a `Claim` by the outlet, dated as the article, whose `appearance` and
  `firstAppearance` are the article (a `NewsArticle`);
- `reviewRating`: a `Rating` whose `alternateName` is the verdict's label in the review's
  language and whose `ratingValue` sits on the verdict table's scale (`index/verdicts.py`); a
  verdict that is no degree of truth (opinion, unverifiable) carries no number;
- `author`: the organisation publishing the fact checks (FACTCHECK_PUBLISHER), `datePublished`:
  the note's `reviewed` date, `url`: CLAIMREVIEW_URL filled with the note id and language
  (left out when that setting is empty), `reviewBody`: the note's summary in that language.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from index.verdicts import BEST_RATING, WORST_RATING, verdict

if TYPE_CHECKING:
    from bot.settings import Settings
    from index.corpus import Corpus, Document, FactCheck

JsonObject = dict[str, Any]

CONTEXT = "https://schema.org"
LANGUAGES = ("fr", "en")  # one review per note in each, in this order

# Inside `<script type="application/ld+json">` the HTML parser ends the script at `</script`
# whatever JSON thinks, and `<!--` changes how it reads on: note text holds user input, so these
# characters are written as JSON escapes, which parse back to the same text.
_HTML_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


class ClaimReviewError(ValueError):
    """A note cannot be exported; the message names it."""


def claimreview_document(corpus: Corpus, settings: Settings) -> list[JsonObject]:
    """Every note's reviews, with the publisher and URL template `settings` name."""
    return claim_reviews(corpus, settings.factcheck_publisher, settings.claimreview_url)


def json_ld(reviews: list[JsonObject]) -> str:
    """`reviews` as JSON text that a page can embed in a `<script>` element as is: no `<`, `>`
    or `&` outside an escape (they can only occur inside strings, where `\\u003c` means `<`)."""
    return json.dumps(reviews, ensure_ascii=False, indent=2).translate(_HTML_SAFE) + "\n"


def claim_reviews(corpus: Corpus, publisher: str, url_template: str = "") -> list[JsonObject]:
    """One ClaimReview per note and language, notes in corpus order, French first.

    `url_template` holds `{id}` and optionally `{lang}` (checked by `bot.settings`); empty, the
    reviews have no `url`."""
    article = _news_article(corpus.article)
    return [
        _claim_review(corpus, note, language, article, publisher, url_template)
        for note in corpus.factchecks
        for language in LANGUAGES
    ]


def claim_text(corpus: Corpus, note: FactCheck, language: str) -> str:
    """The claim in `language`: the French quote itself, or the whole sentences of the aligned
    translation that hold it (the translation is aligned sentence by sentence, not word by
    word, so the English for a part of a sentence is its whole sentence)."""
    if language == corpus.article.language:
        return note.claim
    translation = corpus.translations.get(language)
    span = note.claim_span
    if translation is None or span is None:
        raise ClaimReviewError(f"{note.id}: no {language} translation of its claim to export")
    source = next((p for p in corpus.article.paragraphs if p.number == span.paragraph), None)
    target = next((p for p in translation.paragraphs if p.number == span.paragraph), None)
    if source is None or target is None or len(source.sentences) != len(target.sentences):
        raise ClaimReviewError(f"{note.id}: its paragraph is not aligned in {translation.path}")
    held = [i for i, (a, b) in enumerate(source.sentences) if a < span.end and span.start < b]
    if not held:
        raise ClaimReviewError(f"{note.id}: its claim span holds no sentence")
    return " ".join(target.text[a:b].strip() for a, b in target.sentences[held[0] : held[-1] + 1])


def review_url(url_template: str, note_id: str, language: str) -> str:
    return url_template.format(id=quote(note_id, safe=""), lang=language)


def _organization(name: str) -> JsonObject:
    return {"@type": "Organization", "name": name}


def _news_article(article: Document) -> JsonObject:
    """The article the claims appear in, with what the corpus records of it."""
    out: JsonObject = {
        "@type": "NewsArticle",
        "headline": article.title,
        "inLanguage": article.language,
    }
    if article.url:
        out["url"] = article.url
    if article.published:
        out["datePublished"] = article.published
    if article.outlet:
        out["publisher"] = _organization(article.outlet)
        out["author"] = _organization(article.outlet)
    return out


def _claim(corpus: Corpus, article: JsonObject) -> JsonObject:
    """The claim as made: by the outlet, in the article's language, when it was published."""
    out: JsonObject = {"@type": "Claim", "inLanguage": corpus.article.language}
    if corpus.article.outlet:
        out["author"] = _organization(corpus.article.outlet)
    if corpus.article.published:
        out["datePublished"] = corpus.article.published
    # The corpus knows of no earlier copy than the article itself (an AFP dispatch it rewrites
    # is named in `outlet`, but not where it appeared).
    out["appearance"] = article
    out["firstAppearance"] = article
    return out


def _rating(note: FactCheck, language: str) -> JsonObject:
    v = verdict(note.verdict)
    label = v.label(language)
    out: JsonObject = {"@type": "Rating", "alternateName": label}
    # The note's own short rating line is written in English only.
    out["name"] = note.rating if language == "en" and note.rating else label
    if v.rating_value is not None:
        out["ratingValue"] = v.rating_value
        out["bestRating"] = BEST_RATING
        out["worstRating"] = WORST_RATING
    return out


def _claim_review(
    corpus: Corpus,
    note: FactCheck,
    language: str,
    article: JsonObject,
    publisher: str,
    url_template: str,
) -> JsonObject:
    out: JsonObject = {"@context": CONTEXT, "@type": "ClaimReview"}
    if url_template:
        out["url"] = review_url(url_template, note.id, language)
    out["identifier"] = note.id
    out["inLanguage"] = language
    out["claimReviewed"] = claim_text(corpus, note, language)
    out["itemReviewed"] = _claim(corpus, article)
    out["author"] = _organization(publisher)
    out["datePublished"] = note.reviewed
    out["reviewRating"] = _rating(note, language)
    out["reviewBody"] = note.summary(language)
    return out
