"""Rendering for Discord: Discord's limits hold for any input, and the content is right."""

from __future__ import annotations

import re
from typing import Any

import discord
import pytest

from bot.answer import Answer, FactCheckRef, Lead, Link, SourceRef
from bot.answering.status import DocumentInfo, IndexInfo, ReindexReport
from bot.chat.discord import render
from bot.chat.discord.render import dlen, truncate
from index.verdicts import VERDICTS
from tests.change_support import note_edits

LINK = re.compile(r"\[([^\[\]]*)\]\(([^()]*)\)")


def embed_total(e: dict[str, Any]) -> int:
    return (
        dlen(e.get("title", ""))
        + dlen(e.get("description", ""))
        + sum(dlen(f["name"]) + dlen(f["value"]) for f in e.get("fields", []))
        + dlen(e.get("footer", {}).get("text", ""))
        + dlen(e.get("author", {}).get("name", ""))
    )


def assert_within_limits(embed: discord.Embed) -> None:
    e: dict[str, Any] = dict(embed.to_dict())
    assert dlen(e.get("title", "")) <= render.TITLE_MAX
    assert dlen(e.get("description", "")) <= render.DESCRIPTION_MAX
    assert len(e.get("fields", [])) <= render.FIELDS_MAX
    for f in e.get("fields", []):
        assert 0 < dlen(f["name"]) <= render.FIELD_NAME_MAX
        assert 0 < dlen(f["value"]) <= render.FIELD_VALUE_MAX
    assert dlen(e.get("footer", {}).get("text", "")) <= render.FOOTER_MAX
    assert embed_total(e) <= render.EMBED_TOTAL_MAX


def assert_links_whole(text: str) -> None:
    """Every '](' starts a complete link whose URL is one of ours (never a cut-off one)."""
    for match in re.finditer(r"\]\(", text):
        tail = text[match.end() :]
        assert re.match(r"https?://[^()\s]+\)", tail), f"broken link near {tail[:40]!r}"


def note(i: int, verdict: str = "inaccurate", size: int = 50) -> FactCheckRef:
    return FactCheckRef(
        id=f"fc-{i:02d}",
        claim=f"claim {i} " + "c" * size,
        verdict=verdict,
        label=f"Label {i}",
        summary=f"summary {i} " + "word " * size,
        sources=(
            Link(f"Source {i} [a]", f"https://example.org/{i}/page(1)"),
            Link("Second", f"https://example.org/{i}/b"),
        ),
    )


def source(i: int, size: int = 20, translation: bool = True) -> SourceRef:
    return SourceRef(
        id=f"u{i}",
        kind="article",
        doc="article-fr",
        paragraph=i,
        quote=f"Phrase {i} " + "mot " * size,
        score=0.5,
        url="https://dexplo.fr/",
        translation=("Sentence " + "word " * size) if translation else None,
    )


# ---------------------------------------------------------------------- truncate


def test_truncate_leaves_short_text_alone() -> None:
    assert truncate("hello", 5) == "hello"
    assert truncate("", 0) == ""


@pytest.mark.parametrize("limit", [1, 2, 10, 57, 100, 256, 1024, 2000, 4096])
def test_truncate_huge_markdown_never_exceeds_the_limit_nor_cuts_a_link(limit: int) -> None:
    piece = "**bold** [a link](https://example.org/x_y) `code` <@123456789012345678> é😀 "
    text = piece * 2000
    out = truncate(text, limit)
    assert dlen(out) <= limit
    if limit > 10:
        assert out.endswith(render.ELLIPSIS) or out.endswith(("**", "`"))
        assert_links_whole(out)
        # Mentions are whole or absent.
        assert not re.search(r"<@\d*$|<@\d+(?!\d|>)", out.replace(render.ELLIPSIS, ""))


def test_truncate_drops_a_link_rather_than_cutting_it() -> None:
    text = "see " + "[the CNES page](https://cnes.fr/projets/dorn)" + " afterwards"
    out = truncate(text, 30)
    assert out == "see…"
    assert dlen(out) <= 30


def test_truncate_closes_open_bold_and_code() -> None:
    out = truncate("**" + "x" * 100 + "**", 20)
    assert dlen(out) <= 20
    assert out.startswith("**") and out.endswith("…**")
    out = truncate("`" + "y " * 100 + "`", 21)
    assert out.count("`") == 2 and dlen(out) <= 21


def test_truncate_keeps_escapes_paired() -> None:
    out = truncate("a\\" * 50, 12)
    assert dlen(out) <= 12
    assert not out.removesuffix(render.ELLIPSIS).endswith("\\")


def test_truncate_counts_astral_characters_as_two() -> None:
    out = truncate("😀" * 100, 11)
    assert dlen(out) <= 11 and out.startswith("😀")


def test_clip_message_is_within_2000() -> None:
    assert dlen(render.clip_message("z" * 10_000)) <= render.MESSAGE_MAX


# ---------------------------------------------------------------------- answers


def test_answer_embed_quotes_with_paragraph_refs_translation_and_verdicts() -> None:
    answer = Answer(
        question="When will Chang'e 6 collect samples?",
        language="en",
        refused=False,
        text="plain",
        sources=(source(5, 5),),
        factchecks=(note(13, "outdated", 3), note(2, "accurate", 3)),
        index_version="v42",
    )
    e = render.answer_embed(answer).to_dict()
    assert e["title"] == "❓ When will Chang'e 6 collect samples?"
    assert "> « Phrase 5 mot mot mot mot mot » — [§5](https://dexplo.fr/)" in e["description"]
    assert "> *“Sentence word word word word word”*" in e["description"]
    names = [f["name"] for f in e["fields"]]
    assert names == ["⚠️ Label 13", "✅ Label 2"]
    first = e["fields"][0]["value"]
    assert "**Claim:** « claim 13 ccc »" in first
    assert "**What is true:** summary 13 word word word" in first
    assert "[Source 13 (a)](https://example.org/13/page%281%29)" in first
    assert e["color"] == VERDICTS["outdated"].colour == discord.Colour.orange().value
    footer = e["footer"]["text"]
    assert footer.startswith("Verbatim quotes from the article · fact-check notes by factbot · ")
    assert "⚠️ = the article is wrong or outdated · index v42" in footer


def test_french_answer_has_french_labels_and_no_translation_line() -> None:
    answer = Answer(
        "Quand ?", "fr", False, "t", (source(5, 3, translation=True),), (note(1, "accurate"),)
    )
    e = render.answer_embed(answer).to_dict()
    assert e["description"].startswith("**D'après l'article**")
    assert "Sentence" not in e["description"]  # the English line is for English answers only
    assert "**Affirmation:**" in e["fields"][0]["value"]
    assert e["color"] == VERDICTS["accurate"].colour == discord.Colour.green().value
    assert e["footer"]["text"].startswith("Citations exactes de l'article")


def test_the_lead_comes_first_with_where_it_comes_from() -> None:
    lead = Lead("Chang'e 6 launched on 3 May 2024.", "fc-13", "factcheck", label="Outdated")
    answer = Answer("When?", "en", False, "t", (source(5, 3),), (note(13, "outdated"),), lead=lead)
    description = render.answer_embed(answer).to_dict()["description"]
    first, origin, blank, quotes = description.split("\n")[:4]
    assert first == "**In short:** Chang'e 6 launched on 3 May 2024."
    assert origin == "*— fact-check: Outdated*" and blank == ""
    assert quotes == "**From the article**"
    article = Lead("Phrase 5 mot", "u5", "article", paragraph=5)
    fr = Answer("Quand ?", "fr", False, "t", (source(5, 3),), lead=article)
    lines = render.answer_embed(fr).to_dict()["description"].split("\n")
    assert lines[:2] == ["**En bref:** Phrase 5 mot", "*— article, §5*"]


def test_a_note_quoted_as_a_source_shows_no_internal_id() -> None:
    summary = SourceRef(
        "fc-03-china-space-with-france",
        "factcheck",
        "fc-03-china-space-with-france",
        None,
        "Overstated: one mission.",
        0.5,
    )
    answer = Answer("Q?", "en", False, "t", (source(1, 2), summary))
    embed = render.answer_embed(answer).to_dict()
    assert "Overstated: one mission." in embed["description"]
    assert "fc-03" not in str(embed)


def test_a_huge_answer_keeps_its_lead() -> None:
    lead = Lead("The answer. " * 30, "u1", "article", paragraph=1)
    answer = Answer(
        "Q", "en", False, "t", tuple(source(i, 400) for i in range(40)), (note(1),), lead=lead
    )
    embed = render.answer_embed(answer)
    assert_within_limits(embed)
    assert embed.to_dict()["description"].startswith("**In short:** The answer. The answer.")


def test_refused_answer_says_not_covered() -> None:
    answer = Answer("Carbonara?", "en", True, "The article doesn't cover that.")
    e = render.answer_embed(answer).to_dict()
    assert e["description"].startswith("**Not covered by the article.**")
    assert "The article doesn't cover that." in e["description"]
    assert "fields" not in e or not e["fields"]
    assert e["color"] == render.COLOUR_REFUSED.value


def test_question_echo_is_escaped() -> None:
    answer = Answer("@everyone <@&123456789012345678> **bold** _x_", "en", True, "no")
    title = render.answer_embed(answer).to_dict()["title"]
    assert "@everyone" not in title and "@\u200beveryone" in title
    assert "<@&123456789012345678>" not in title
    assert "\\*\\*bold\\*\\*" in title and "\\_x\\_" in title


def test_huge_answer_respects_every_limit() -> None:
    answer = Answer(
        question="Q" * 5000,
        language="en",
        refused=False,
        text="t" * 50_000,
        sources=tuple(source(i, 400) for i in range(40)),
        factchecks=tuple(note(i, size=2000) for i in range(40)),
        index_version="v" * 3000,
    )
    embed = render.answer_embed(answer)
    assert_within_limits(embed)
    e = embed.to_dict()
    assert e["fields"], "some verdicts must survive the squeeze"
    assert "more not shown" in e["footer"]["text"]
    for part in [e["description"], *(f["value"] for f in e["fields"])]:
        assert_links_whole(part)


def test_huge_refusal_respects_every_limit() -> None:
    embed = render.answer_embed(Answer("x" * 9000, "fr", True, "[a](https://b.c) " * 3000))
    assert_within_limits(embed)
    assert_links_whole(embed.to_dict()["description"])


def test_embed_spec_fit_shrinks_to_the_total_with_maximal_parts() -> None:
    spec = render.EmbedSpec(
        title="t" * 999,
        description="d" * 9999,
        fields=[("n" * 999, "v" * 9999)] * 40,
        footer="f" * 9999,
    )
    embed = spec.to_embed()
    assert_within_limits(embed)
    assert "more not shown" in embed.to_dict()["footer"]["text"]


def test_thread_name_is_one_line_within_100() -> None:
    assert render.thread_name("a\nb   c") == "a b c"
    assert dlen(render.thread_name("word " * 100)) <= render.THREAD_NAME_MAX
    assert render.thread_name("   ") == "Question"


# ---------------------------------------------------------------------- /factcheck, /sources


def test_factcheck_pages_hold_every_note_within_limits() -> None:
    notes = [note(i, "misleading" if i % 2 else "accurate", 120) for i in range(30)]
    specs = render.factcheck_specs(notes, None, "en", max_pages=10)
    assert len(specs) > 1
    shown = [name for s in specs for name, _ in s.fields]
    assert len(shown) == 30
    assert shown[0] == "✅ Label 0" and shown[1] == "⚠️ Label 1"
    for i, s in enumerate(specs, 1):
        embed = s.to_embed()
        assert_within_limits(embed)
        assert f"page {i}/{len(specs)}" in s.footer
        assert s.title == "Fact-check notes (30)"


def test_factcheck_pages_are_capped_and_say_how_many_are_hidden() -> None:
    notes = [note(i, size=400) for i in range(60)]
    specs = render.factcheck_specs(notes, None, "en", max_pages=2)
    assert len(specs) == 2
    shown = sum(len(s.fields) for s in specs)
    assert shown < 60
    assert f"{60 - shown} more notes not shown" in specs[-1].footer
    for s in specs:
        assert_within_limits(s.to_embed())


def test_factcheck_topic_without_match() -> None:
    (spec,) = render.factcheck_specs([], "@everyone carbonara", "en")
    assert spec.title == "Notes about “@\u200beveryone carbonara”"
    assert spec.description == (
        "No fact-check note matches that topic. Try /factcheck with no topic for all notes."
    )


def test_sources_embed_lists_documents_and_index() -> None:
    info = IndexInfo(
        documents=(
            DocumentInfo("article-fr", "Conquête spatiale", "fr", "https://dexplo.fr/"),
            DocumentInfo("article-en", "Space conquest", "en", None),
        ),
        note_count=17,
        version="20261124T0412-abc",
        model="bundled:all-MiniLM-L6-v2",
        built_at="2026-11-24T04:12:08+00:00",
        chunk_count=74,
    )
    e = render.sources_embed(info).to_dict()
    assert (
        "• [Conquête spatiale](https://dexplo.fr/) (dexplo.fr) — `article-fr` (fr)"
        in e["description"]
    )
    assert "• Space conquest — `article-en` (en)" in e["description"]
    assert e["title"] == "📚 Sources"
    fields = {f["name"]: f["value"] for f in e["fields"]}
    assert fields["Fact-check notes"] == "17"
    assert fields["Passages indexed"] == "74"
    assert fields["Index version"] == "`20261124T0412-abc`"
    assert fields["Embedding model"] == "`bundled:all-MiniLM-L6-v2`"
    assert fields["Built"] == "2026-11-24T04:12:08+00:00"


# ---------------------------------------------------------------------- /reindex


def test_reindex_text_reports_chunks_duration_and_changes() -> None:
    report = ReindexReport(note_edits("fc-13_launch"), 3.25, coalesced=True)
    text = render.reindex_text(report)
    assert text.startswith("✅ Index rebuilt in 3.2 s: 74 chunks (version `v1` → `v2`).")
    assert "\nYour request joined a rebuild that was already running.\n**Changes:**\n" in text
    assert "• notes changed: fc-13\\_launch" in text
    unchanged = render.reindex_text(ReindexReport(note_edits(version="v3", previous="v2"), 1.0))
    assert unchanged.endswith("**Changes:**\n• no content change")
    assert "already running" not in unchanged


def test_reindex_failed_text_lists_problems_within_2000() -> None:
    problems = [f"factchecks/{i:02d}_x.md:4: unknown verdict 'bogus'" for i in range(100)]
    text = render.reindex_failed_text(problems, "v1")
    assert text.startswith(
        "❌ Rebuild failed: the previous index (`v1`) keeps serving.\n"
        "Fix the corpus and run /reindex again:\n"
    )
    assert "• factchecks/00\\_x.md:4: unknown verdict 'bogus'" in text
    assert "and 85 more" in text
    assert dlen(text) <= render.MESSAGE_MAX
    huge = render.reindex_failed_text(["p" * 5000], "v1")
    assert dlen(huge) <= render.MESSAGE_MAX
