"""Every kind of reply (`Answer.act`) rendered for Discord and Slack, with hand-built answers:
the right parts, in the right order, the same words on both, and within each platform's limits
for any input (huge notes, many parts)."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.answer import Answer, ArticleCard, FactCheckRef, Lead, Link, SourceRef
from bot.chat.discord import acts as discord_acts
from bot.chat.discord import render as discord_render
from bot.chat.slack import acts as slack_acts
from bot.chat.slack.render import MAX_BLOCKS, render_answer
from bot.messages import scorecard_line
from bot.messages import text as message
from tests.fakes.slack_server import block_kit_problems
from tests.test_discord_render import assert_within_limits, embed_total

CARD = ArticleCard(
    title="Conquête spatiale: La France s'associe à une grande puissance",
    outlet="Unknown French news site",
    published="2019-03",
    url="https://dexplo.fr/article",
    language="fr",
    summary={
        "fr": "L'article rapporte l'accord de mars 2019. Plusieurs chiffres sont dépassés.",
        "en": "The article reports the March 2019 agreement. Several figures are outdated.",
    },
    scorecard=(("inaccurate", 4), ("misleading", 5), ("outdated", 3), ("accurate", 5)),
    notes_total=17,
)
SEVERE = ("inaccurate", "misleading", "outdated", "unverifiable", "opinion")


def note(i: int, verdict: str = "inaccurate", size: int = 10) -> FactCheckRef:
    return FactCheckRef(
        id=f"fc-{i:02d}",
        claim=f"claim {i} " + "c" * size,
        verdict=verdict,
        label=f"Label {i}",
        summary=f"What is true {i} " + "word " * size + ". A second sentence " + "w " * size,
        sources=(Link(f"Source {i}", f"https://example.org/{i}"),),
    )


def reliability(notes: tuple[FactCheckRef, ...], language: str = "en") -> Answer:
    lead = Lead(notes[0].summary.split(".")[0] + ".", notes[0].id, "factcheck", label="Label 0")
    return Answer(
        "is it reliable?",
        "fr" if language == "fr" else "en",
        False,
        "reliability text",
        factchecks=notes,
        lead=lead,
        act="reliability",
        card=CARD,
    )


def conversation(act: Any, language: Any = "en") -> Answer:
    return Answer("hello there", language, False, f"A short {act} reply.", act=act)


def fact(question: str, quote: str = "Une phrase de l'article.") -> Answer:
    source = SourceRef("u1", "article", "article-fr", 5, quote, 0.9, "https://dexplo.fr/")
    lead = Lead(quote, "u1", "article", paragraph=5)
    return Answer(question, "en", False, quote, (source,), (note(1, "outdated"),), "v1", lead)


def discord_dicts(reply: discord_acts.Reply) -> list[dict[str, Any]]:
    return [dict(e.to_dict()) for e in reply.embeds]


def discord_text(reply: discord_acts.Reply) -> str:
    parts = [reply.content]
    for e in discord_dicts(reply):
        parts += [e.get("title", ""), e.get("description", ""), e.get("footer", {}).get("text", "")]
        parts += [f"{f['name']}\n{f['value']}" for f in e.get("fields", [])]
    return "\n".join(parts)


def slack_text(blocks: list[dict[str, Any]]) -> str:
    out = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        out.extend(e.get("text", "") for e in block.get("elements", []) if isinstance(e, dict))
    return "\n".join(str(x) for x in out)


# ---------------------------------------------------------------------- conversation acts


@pytest.mark.parametrize("act", ["greeting", "thanks", "help", "feedback"])
def test_a_conversation_reply_is_short_plain_text_without_quotes_notes_or_votes(act: Any) -> None:
    answer = conversation(act)
    shown = discord_acts.reply(answer)
    assert shown.content == f"A short {act} reply."
    assert not shown.embeds and not shown.votable

    slack = slack_acts.render_reply(answer, asker="UALICE", answer_id="abc")
    assert [b["type"] for b in slack.blocks] == ["section"]  # no 👍/👎 actions
    assert slack.blocks[0]["text"]["text"] == f"A short {act} reply."


def test_feedback_in_words_is_offered_the_reason_form_on_slack() -> None:
    answer = Answer("c'est faux", "fr", False, "Merci de le signaler.", act="feedback")
    shown = slack_acts.render_reply(answer, "UALICE", "ignored", feedback_on="prev-answer")
    (_reply, actions) = shown.blocks
    (button,) = actions["elements"]
    assert button["action_id"] == slack_acts.FEEDBACK_ACTION
    assert "Dire ce qui n'allait pas" in button["text"]["text"]
    assert slack_acts.pressed_reason(button["value"]) == ("prev-answer", "c'est faux", "fr")
    assert not block_kit_problems(shown.payload())
    # Nothing to point at (no earlier answer): the reply alone.
    assert len(slack_acts.render_reply(answer).blocks) == 1


def test_feedback_button_on_discord_carries_the_answer_id() -> None:
    view = discord_acts.reason_button("prev-answer", "fr")
    (button,) = view.children
    assert isinstance(button, discord.ui.Button)
    assert button.custom_id == "factbot:feedback:prev-answer"
    assert discord_acts.FEEDBACK_ID.fullmatch(button.custom_id or "")
    assert button.label == "Dire ce qui n'allait pas"
    # The form it opens is the 👎 button's, pre-filled.
    modal = discord_render.reason_modal("prev-answer", "fr", default="c'est faux")
    (label,) = modal.children
    assert label.to_component_dict()["component"]["value"] == "c'est faux"


# ---------------------------------------------------------------------- the article


def test_gist_shows_the_summary_then_headline_and_scorecard_on_both() -> None:
    answer = Answer(
        "what is this article about?",
        "en",
        False,
        "gist",
        lead=Lead("The article reports the March 2019 agreement.", "summary", "summary"),
        act="gist",
        card=CARD,
    )
    score = scorecard_line(CARD.scorecard, CARD.notes_total, "en")
    assert score.startswith("17 claims checked: 4 inaccurate, 5 misleading")

    shown = discord_acts.reply(answer)
    (embed,) = discord_dicts(shown)
    assert shown.votable
    assert embed["description"].startswith("The article reports the March 2019 agreement.")
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Headline"].startswith(f"[{CARD.title}](https://dexplo.fr/article)")
    assert fields["Fact-check"] == score

    slack = slack_acts.render_reply(answer, "UALICE", "a1")
    text = slack_text(slack.blocks)
    assert text.index("The article reports") < text.index(CARD.title) < text.index(score)
    assert slack.blocks[-1]["type"] == "actions"  # 👍/👎: an answer about the article
    assert not block_kit_problems(slack.payload())


def test_about_answer_and_the_card_show_the_front_matter() -> None:
    lead = Lead("“Conquête spatiale”, published 2019-03 by X", "article-fr", "about")
    answer = Answer("who published it?", "en", False, "about", lead=lead, act="about", card=CARD)
    (embed,) = discord_dicts(discord_acts.reply(answer))
    assert embed["description"].startswith("**In short:** “Conquête spatiale”")
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Outlet"] == "Unknown French news site"
    assert fields["Published"] == "2019-03"
    assert fields["Language"] == "French"

    card: dict[str, Any] = dict(discord_acts.card_embed(CARD, "fr").to_dict())
    assert card["title"] == f"📰 {CARD.title}" and card["url"] == CARD.url
    assert CARD.summary["fr"] in card["description"]
    assert {f["name"] for f in card["fields"]} >= {"Source", "Publié", "Langue", "Lien"}

    slack = slack_acts.render_card(CARD, "fr")
    text = slack_text(slack.blocks)
    assert "*Source :*" in text or "*Source:*" in text
    assert CARD.summary["fr"] in text
    assert scorecard_line(CARD.scorecard, 17, "fr") in text
    assert not block_kit_problems(slack.payload())


@pytest.mark.parametrize("language", ["en", "fr"])
def test_reliability_lists_the_notes_most_serious_first_with_claim_and_truth(
    language: str,
) -> None:
    notes = tuple(note(i, SEVERE[i % 3]) for i in range(6))
    answer = reliability(notes, language)
    (embed,) = discord_dicts(discord_acts.reply(answer))
    lead = message("lead.title", answer.language)
    assert embed["description"].startswith(f"**{lead}:** What is true 0")  # the lead first
    text = discord_text(discord_acts.reply(answer))
    positions = [text.index(f"claim {i} ") for i in range(6)]
    assert positions == sorted(positions)  # the core's order (most serious first) is kept
    assert "→ What is true 0" in text
    assert "A second sentence" not in text  # what is true in one line: its first sentence
    assert message("reliability.more", answer.language) in text  # /factcheck for the rest
    assert scorecard_line(CARD.scorecard, 17, answer.language) in text

    slack = slack_text(slack_acts.render_reply(answer).blocks)
    assert slack.startswith(f"_is it reliable?_\n*{lead}:* What is true 0")
    assert [slack.index(f"claim {i} ") for i in range(6)] == sorted(
        slack.index(f"claim {i} ") for i in range(6)
    )
    assert message("reliability.more", answer.language) in slack


def test_a_huge_reliability_answer_fits_every_limit_and_says_how_many_are_left() -> None:
    notes = tuple(note(i, "inaccurate", size=400) for i in range(40))
    answer = reliability(notes)
    shown = discord_acts.reply(answer)
    (embed,) = shown.embeds
    assert_within_limits(embed)
    text = discord_text(shown)
    assert "claim 0 " in text and "… and " in text and "more" in text
    assert text.count("→") < 40

    slack = slack_acts.render_reply(answer, "UALICE", "a1")
    assert not block_kit_problems(slack.payload())
    assert len(slack.blocks) <= MAX_BLOCKS
    assert "… and 28 more" in slack_text(slack.blocks)


# ---------------------------------------------------------------------- several questions


def multi(n: int, size: int = 20) -> Answer:
    parts = tuple(fact(f"question {i}?", f"Réponse {i} " + "mot " * size) for i in range(n))
    return Answer("q", "en", False, "joined", act="multi", parts=parts, lead=parts[0].lead)


def test_multi_shows_each_part_with_its_question_and_own_lead() -> None:
    answer = multi(2)
    shown = discord_acts.reply(answer)
    first, second = discord_dicts(shown)
    assert first["title"] == "1. question 0?" and second["title"] == "2. question 1?"
    assert first["description"].startswith("**In short:** Réponse 0")
    assert second["description"].startswith("**In short:** Réponse 1")
    assert shown.votable

    slack = slack_text(slack_acts.render_reply(answer, "UALICE", "a1").blocks)
    assert slack.index("1. question 0?") < slack.index("In short:* Réponse 0")
    assert slack.index("2. question 1?") < slack.index("In short:* Réponse 1")


@pytest.mark.parametrize("n", [2, 4, 12])
def test_many_huge_parts_fit_one_message(n: int) -> None:
    answer = multi(n, size=900)
    shown = discord_acts.reply(answer)
    assert 1 <= len(shown.embeds) <= discord_acts.EMBEDS_MAX
    for embed in shown.embeds:
        assert_within_limits(embed)
    total = sum(embed_total(e) for e in discord_dicts(shown))
    assert total <= discord_render.EMBED_TOTAL_MAX
    assert "In short" in discord_text(shown)

    slack = slack_acts.render_reply(answer, "UALICE", "a1")
    assert not block_kit_problems(slack.payload())
    assert slack.blocks[-1]["type"] == "actions"


def test_a_fact_answer_is_rendered_as_before() -> None:
    answer = fact("when?")
    (embed,) = discord_acts.reply(answer).embeds
    assert embed.to_dict() == discord_render.answer_embed(answer).to_dict()
    assert slack_acts.render_reply(answer, "UALICE", "a1") == render_answer(answer, "UALICE", "a1")
