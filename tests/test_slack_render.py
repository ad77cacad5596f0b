"""Block Kit rendering (pure functions) with hand-built answers: layout, escaping, limits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.answer import Answer, FactCheckRef, Lead, Link, SourceRef
from bot.answering.status import DocumentInfo, IndexInfo, ReindexReport
from bot.chat.slack.render import (
    FALLBACK_LIMIT,
    MAX_BLOCKS,
    SECTION_LIMIT,
    SlackMessage,
    clip_mrkdwn,
    escape,
    header,
    link,
    render_answer,
    render_factchecks,
    render_notice,
    render_reindex_failure,
    render_reindex_report,
    render_sources,
    slack_to_plain,
)
from tests.change_support import note_edits
from tests.fakes.slack_server import block_kit_problems

FR_QUOTE = (
    "Le président du Cnes a expliqué: « nous allons embarquer 15 kg d'expériences à bord de la "
    "future mission Chang’e 6 qui ira recueillir des échantillons lunaires en 2023 »."
)
EN_QUOTE = "The president of Cnes explained: we are going to take 15 kg of experiments aboard."

LAUNCH_NOTE = FactCheckRef(
    id="fc-13-launch-date",
    claim="qui ira recueillir des échantillons lunaires en 2023",
    verdict="outdated",
    label="Outdated: Chang'e 6 launched in May 2024",
    summary="Chang'e 6 launched on 3 May 2024; it did not fly in 2023.",
    sources=(
        Link("CNES — DORN project page", "https://cnes.fr/projets/dorn"),
        Link("Spacechina", "https://english.spacechina.com/"),
    ),
)
ACCURATE_NOTE = FactCheckRef(
    id="fc-01-agreement-signed",
    claim="Paris et Pékin viennent de signer un accord",
    verdict="accurate",
    label="Accurate",
    summary="Signed on 25 March 2019.",
    sources=(Link("AFP", "https://www.rtlinfo.be/"),),
)


def article_source(quote: str = FR_QUOTE, translation: str | None = EN_QUOTE) -> SourceRef:
    return SourceRef(
        id="article-fr:p5:s1-1",
        kind="article",
        doc="article-fr",
        paragraph=5,
        quote=quote,
        score=0.9,
        url="https://dexplo.fr/",
        translation=translation,
    )


def english_answer(**overrides: Any) -> Answer:
    values: dict[str, Any] = {
        "question": "When did Chang'e 6 launch?",
        "language": "en",
        "refused": False,
        "text": "From the article: « ... » (§5)",
        "sources": (article_source(),),
        "factchecks": (LAUNCH_NOTE, ACCURATE_NOTE),
    }
    values.update(overrides)
    return Answer(**values)


def strings(message: SlackMessage) -> Iterator[str]:
    """Every text a person could see in the message."""
    yield message.text
    for block in message.blocks:
        text = block.get("text")
        if isinstance(text, dict):
            yield text["text"]
        for element in block.get("elements", []):
            yield element["text"]


def sections(message: SlackMessage) -> list[str]:
    return [b["text"]["text"] for b in message.blocks if b["type"] == "section"]


def assert_valid(message: SlackMessage) -> None:
    assert block_kit_problems(message.payload()) == []
    assert len(message.text) <= FALLBACK_LIMIT
    # Every mrkdwn object is verbatim: Slack must not auto-parse mentions in our texts.
    for block in message.blocks:
        objects = (
            [block["text"]] if isinstance(block.get("text"), dict) else block.get("elements", [])
        )
        for obj in objects:
            if obj["type"] == "mrkdwn":
                assert obj["verbatim"] is True


# ---------------------------------------------------------------------------- answers


def test_english_answer_quotes_with_paragraph_and_translation() -> None:
    message = render_answer(english_answer(), asker="UALICE")
    assert_valid(message)
    texts = sections(message)
    quote = next(t for t in texts if "«" in t and "§5" in t)
    assert quote.startswith("> « Le président du Cnes")
    assert "\n> _“The president of Cnes explained" in quote
    assert all(line.startswith("> ") for line in quote.splitlines())
    context = message.blocks[0]["elements"][0]["text"]
    assert context.startswith("<@UALICE> asked: ")
    assert "When did Chang'e 6 launch?" in context


def test_the_lead_is_the_first_section_with_where_it_comes_from() -> None:
    lead = Lead(
        "Chang'e 6 launched on 3 May 2024 <!here>.",
        "fc-13-launch-date",
        "factcheck",
        label=LAUNCH_NOTE.label,
    )
    message = render_answer(english_answer(lead=lead), asker="UALICE")
    assert_valid(message)
    assert message.blocks[0]["type"] == "context"  # who asked what, then the answer
    first = sections(message)[0]
    assert first == (
        "*In short:* Chang'e 6 launched on 3 May 2024 &lt;!here&gt;.\n"
        "_— fact-check: Outdated: Chang'e 6 launched in May 2024_"
    )
    assert sections(message)[1] == "*From the article*"
    article = Lead(EN_QUOTE, "article-fr:p5:s1-1", "article", paragraph=5)
    french = render_answer(english_answer(language="fr", lead=article))
    assert sections(french)[0].endswith("\n_— article, §5_")
    assert sections(french)[0].startswith("*En bref:* The president of Cnes")


def test_each_verdict_has_its_own_section_with_emoji_and_links() -> None:
    message = render_answer(english_answer())
    verdicts = [t for t in sections(message) if "Fact-check —" in t]
    assert len(verdicts) == 2
    outdated, accurate = verdicts
    assert outdated.startswith(
        ":hourglass: *Fact-check — Outdated: Chang'e 6 launched in May 2024*"
    )
    assert "> « qui ira recueillir des échantillons lunaires en 2023 »" in outdated
    assert "*What is true:* Chang'e 6 launched on 3 May 2024" in outdated
    assert "<https://cnes.fr/projets/dorn|CNES — DORN project page>" in outdated
    assert "<https://english.spacechina.com/|Spacechina>" in outdated
    assert accurate.startswith(":white_check_mark: ")


def test_french_answer_uses_french_labels_and_no_translation() -> None:
    answer = english_answer(
        question="Quand Chang'e 6 a-t-elle été lancée ?",
        language="fr",
        sources=(article_source(translation=None),),
    )
    message = render_answer(answer, asker="UALICE")
    assert_valid(message)
    joined = "\n".join(strings(message))
    assert "*D'après l'article*" in joined
    assert "Vérification —" in joined
    assert "*Ce qui est vrai:*" in joined
    assert "a demandé" in joined
    assert "“" not in "".join(t for t in sections(message) if "§5" in t)


def test_refusal_says_not_covered_and_quotes_nothing() -> None:
    answer = english_answer(
        question="What is the recipe for lasagna?",
        refused=True,
        text="The article doesn't cover that, and none of the fact-check notes does either.",
        sources=(),
        factchecks=(),
    )
    message = render_answer(answer)
    assert_valid(message)
    assert any("*Not covered by the article.*" in t for t in sections(message))
    assert not any("«" in t for t in sections(message))
    assert message.text.startswith("Not covered by the article.")


def test_note_quoted_as_source_is_shown_once() -> None:
    note_source = SourceRef(
        id="fc-13-launch-date",
        kind="factcheck",
        doc="fc-13-launch-date",
        paragraph=None,
        quote=LAUNCH_NOTE.summary,
        score=0.5,
        url="https://cnes.fr/projets/dorn",
    )
    other = SourceRef(
        id="fc-99",
        kind="factcheck",
        doc="fc-99",
        paragraph=None,
        quote="Another note's summary.",
        score=0.4,
    )
    message = render_answer(english_answer(sources=(article_source(), note_source, other)))
    joined = "\n".join(sections(message))
    # The launch note is rendered as its verdict only; the other note as a quoted source.
    assert joined.count(LAUNCH_NOTE.summary) == 1
    assert "> Another note's summary." in joined


# ---------------------------------------------------------------------------- escaping


HOSTILE = (
    "<!channel> <!here|here> <!everyone> <!subteam^S123|@mods> <@U999> & <https://evil|x> @here"
)


def test_user_and_corpus_text_cannot_ping_or_link() -> None:
    note = FactCheckRef(
        id="fc-x",
        claim=HOSTILE,
        verdict="misleading",
        label=HOSTILE,
        summary=HOSTILE,
        sources=(Link(HOSTILE, "https://example.org/a|b>c"),),
    )
    answer = english_answer(
        question=HOSTILE,
        text=HOSTILE,
        sources=(article_source(quote=HOSTILE, translation=HOSTILE),),
        factchecks=(note,),
    )
    for message in (
        render_answer(answer, asker="UALICE"),
        render_factchecks([note], HOSTILE, "en"),
        render_notice(HOSTILE),
        render_reindex_failure([HOSTILE], HOSTILE),
    ):
        assert_valid(message)
        for text in strings(message):
            assert "<!" not in text
            assert "<@U999>" not in text
            assert "<https://evil" not in text
            assert not re.search(r"@(channel|here|everyone)\b", text)
        assert "&lt;!channel&gt;" in "".join(strings(message))
    # The only links left are the ones we build, with their URL made safe.
    message = render_factchecks([note], None, "en")
    assert "<https://example.org/a%7Cb%3Ec|" in sections(message)[0]


def test_escape_and_slack_to_plain() -> None:
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape("hi @Here and @channel") == "hi @\u2060Here and @\u2060channel"
    assert escape("mail me@here.com") == "mail me@\u2060here.com"
    wire = (
        "<@U123|ann> <@U456> in <#C1|general>: <!here> <!subteam^S1|@mods> <!subteam^S2> "
        "see <https://a.b/c|this> or <https://x.y> &lt;b&gt; &amp;amp;"
    )
    assert slack_to_plain(wire) == (
        "@ann @U456 in #general: @here @mods @group see this or https://x.y <b> &amp;"
    )
    # Round trip: what the user typed is shown as they typed it, never as markup.
    assert escape(slack_to_plain("&lt;!channel&gt;")) == "&lt;!channel&gt;"


def test_link_rejects_other_schemes() -> None:
    assert link("javascript:alert(1)", "a <b>") == "a &lt;b&gt;"
    assert link("https://a.b/?x=1&y=2", "t") == "<https://a.b/?x=1&amp;y=2|t> (a.b)"


# ---------------------------------------------------------------------------- limits


def test_huge_answer_respects_every_block_kit_limit() -> None:
    big = "Très long « texte » & <b> " * 2000  # ~50k characters
    note = FactCheckRef(
        id="fc-big",
        claim=big,
        verdict="inaccurate",
        label=big,
        summary=big,
        sources=tuple(Link(big, f"https://example.org/{i}") for i in range(20)),
    )
    answer = english_answer(
        question=big,
        text=big,
        sources=tuple(article_source(quote=big, translation=big) for _ in range(80)),
        factchecks=(note,) * 40,
    )
    message = render_answer(answer, asker="UALICE")
    assert_valid(message)
    assert len(message.blocks) == MAX_BLOCKS
    assert message.blocks[-1]["type"] == "context"
    assert "more not shown" in message.blocks[-1]["elements"][0]["text"]
    assert all(len(t) <= SECTION_LIMIT for t in sections(message))
    assert all(t.endswith("…") for t in sections(message)[1:])
    # Clipping never leaves half an entity.
    for text in strings(message):
        assert not re.search(r"&[a-z]*…", text)


def test_huge_lists_and_reports_stay_within_limits() -> None:
    notes = [LAUNCH_NOTE] * 120
    message = render_factchecks(notes, "x" * 10_000, "en")
    assert_valid(message)
    assert len(message.blocks) == MAX_BLOCKS
    assert message.blocks[0]["text"]["text"] == "Fact-check notes (120)"

    failure = render_reindex_failure(
        [f"factchecks/{i}.md: bad verdict" * 5 for i in range(400)], "v1"
    )
    assert_valid(failure)
    assert len(failure.blocks) <= MAX_BLOCKS
    assert "factchecks/0.md" in sections(failure)[1]

    report = ReindexReport(note_edits(*(f"fc-{i}" for i in range(2000))), 2.25)
    assert_valid(render_reindex_report(report))


def test_header_is_clipped_to_150() -> None:
    block = header("h" * 500)
    assert len(block["text"]["text"]) == 150
    assert block["text"]["text"].endswith("…")


@pytest.mark.parametrize("limit", range(1, 60))
def test_clip_mrkdwn_never_cuts_inside_an_entity_or_link(limit: int) -> None:
    text = "ab &amp; <https://x.y/z|title> &lt;c&gt; tail"
    clipped = clip_mrkdwn(text, limit)
    assert len(clipped) <= limit
    body = clipped.removesuffix("…")
    assert text.startswith(body)
    assert body.count("<") == body.count(">")
    assert not re.search(r"&[a-z]*$", body)


# ---------------------------------------------------------------------------- other replies


def test_factcheck_list_and_empty_topic() -> None:
    message = render_factchecks([LAUNCH_NOTE, ACCURATE_NOTE], "launch", "en")
    assert_valid(message)
    assert message.blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Fact-check notes (2)", "emoji": True},
    }
    assert message.blocks[1]["elements"][0]["text"] == "Notes about “launch”"
    assert len([t for t in sections(message) if t.startswith(":")]) == 2

    empty = render_factchecks([], "pizza", "fr")
    assert_valid(empty)
    assert sections(empty)[0] == (
        "Aucune note de vérification ne correspond à ce sujet. "
        "Essayez /factcheck sans sujet pour voir toutes les notes."
    )


def test_sources_lists_documents_and_index() -> None:
    info = IndexInfo(
        documents=(
            DocumentInfo("article-fr", "Conquête spatiale", "fr", "https://dexplo.fr/"),
            DocumentInfo("article-en", "Space <conquest>", "en", None),
        ),
        note_count=17,
        version="v123",
        model="bundled:all-MiniLM-L6-v2",
        built_at="2026-11-24T04:08:54+00:00",
        chunk_count=74,
    )
    message = render_sources(info)
    assert_valid(message)
    docs = sections(message)[0]
    assert "<https://dexplo.fr/|Conquête spatiale> (dexplo.fr) (fr)" in docs
    assert "Space &lt;conquest&gt; (en)" in docs
    assert "*Fact-check notes:* 17" in sections(message)[1]
    context = [e["text"] for e in message.blocks[-1]["elements"]]
    assert context == [
        "Index version: v123",
        "Passages indexed: 74",
        "Built: 2026-11-24T04:08:54+00:00",
        "Embedding model: bundled:all-MiniLM-L6-v2",
    ]
    assert message.text == "Sources: 2 documents, 17 fact-check notes"


def test_reindex_report_and_failure() -> None:
    report = ReindexReport(note_edits("fc-13-launch-date"), 2.24, True)
    text = sections(render_reindex_report(report))[0]
    assert text == (
        ":white_check_mark: Index rebuilt in 2.2 s: 74 chunks (version `v1` → `v2`).\n"
        "Your request joined a rebuild that was already running.\n"
        "*Changes:*\n"
        "• notes changed: fc-13-launch-date"
    )
    unchanged = sections(
        render_reindex_report(ReindexReport(note_edits(version="v3", previous="v2"), 1.0))
    )[0]
    assert unchanged.endswith("*Changes:*\n• no content change")

    failure = render_reindex_failure(["factchecks/13.md: unknown verdict 'bogus'"], "v1")
    joined = "\n".join(sections(failure))
    assert joined.startswith(
        ":x: Rebuild failed: the previous index (`v1`) keeps serving.\n"
        "Fix the corpus and run /reindex again:\n"
    )
    assert "• factchecks/13.md: unknown verdict 'bogus'" in joined
