"""Render every kind of reply (`Answer.act`) as Block Kit: pure functions, no I/O.

The same choices as on Discord (bot/chat/discord/acts.py), in the same words (the catalogue):
- a fact answer (or a refusal): `render.render_answer`, 👍/👎 under it;
- gist: the summary, the headline and the verdict scorecard;
- reliability: the scorecard, then the notes that are not accurate, most serious first, one line
  each (claim → what is true), as many as fit, pointing to /factcheck for the rest;
- about: the article card (`/about` shows the same card);
- multi: each part with its own question and lead, within one message's 50 blocks;
- greeting, thanks, help, feedback in words: a short plain reply — no quotes, no notes, no
  👍/👎 (a conversation reply is not an answer to vote on); feedback in words gets a button that
  opens the 👎 reason form instead, pre-filled with what the member wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot.answer import Answer, ArticleCard, FactCheckRef, Language
from bot.chat.slack.render import (
    BUTTON_TEXT_LIMIT,
    FALLBACK_LIMIT,
    MAX_BLOCKS,
    REASON_MAX,
    SECTION_LIMIT,
    Block,
    SlackMessage,
    _answer_blocks,
    cap_blocks,
    clip,
    context,
    divider,
    escape,
    feedback_block,
    header,
    lead_text,
    link,
    section,
    user_mention,
)
from bot.messages import scorecard_line
from bot.messages import text as message
from index.verdicts import verdict

CLAIM_MAX = 160
TRUE_MAX = 240
# A bare acknowledgement in a thread the bot follows gets this reaction (reactions.add).
ACK_REACTION = "ok_hand"
# The button under a reply to feedback in words; its value carries the answer id and the text.
FEEDBACK_ACTION = "factbot_feedback_reason"
PARTS_MAX = 5  # a multi reply shows at most this many parts (each within its share of blocks)


def render_reply(
    answer: Answer,
    asker: str | None = None,
    answer_id: str | None = None,
    feedback_on: str | None = None,
) -> SlackMessage:
    """What to post for `answer`, whatever its act. `answer_id`: 👍/👎 under an answer about the
    article; `feedback_on`: for feedback in words, the answer the 👎 form is about."""
    if answer.is_conversation:
        return conversation(answer, feedback_on)
    if answer.act == "multi" and answer.parts:
        shown = multi(answer, asker)
    else:
        shown = SlackMessage(clip(escape(answer.text), FALLBACK_LIMIT), act_blocks(answer, asker))
    blocks = cap_blocks(shown.blocks, answer.language, MAX_BLOCKS - (1 if answer_id else 0))
    if answer_id:
        blocks.append(feedback_block(answer_id, answer.language))
    return SlackMessage(shown.text, blocks)


def act_blocks(answer: Answer, asker: str | None = None) -> list[Block]:
    """One answer (not multi) as blocks, without 👍/👎."""
    lang = answer.language
    if not answer.refused and answer.act in ("gist", "reliability", "about"):
        blocks = [_asked(answer, asker)]
        if answer.act == "gist" and answer.card is not None:
            blocks += gist_blocks(answer, answer.card)
        elif answer.act == "reliability":
            blocks += reliability_blocks(answer)
        elif answer.card is not None:
            if answer.lead is not None:
                blocks.append(section(lead_text(answer.lead, lang)))
            blocks += card_blocks(answer.card, lang, with_header=False)
        else:
            blocks.append(section(escape(answer.text)))
        return blocks
    if answer.is_conversation:
        return [section(escape(answer.text))]
    return _answer_blocks(answer, asker, MAX_BLOCKS).blocks


def _asked(answer: Answer, asker: str | None) -> Block:
    mention = user_mention(asker)
    asked = f"{mention} {message('answer.asked', answer.language)}: " if mention else ""
    return context(f"{asked}_{escape(answer.question)}_")


def multi(answer: Answer, asker: str | None) -> SlackMessage:
    """Each part with its question and its own lead, the parts sharing the 50 blocks."""
    parts = answer.parts[:PARTS_MAX]
    share = (MAX_BLOCKS - 2) // len(parts)
    blocks: list[Block] = [_asked(answer, asker)]
    for n, part in enumerate(parts, 1):
        if n > 1:
            blocks.append(divider())
        numbered = message("multi.part", answer.language, n=n, question=escape(part.question))
        own = [b for b in act_blocks(part) if b.get("type") != "context"]  # the question: ours
        blocks += [section(f"*{numbered}*"), *cap_blocks(own, part.language, share - 2)]
    return SlackMessage(clip(escape(answer.text), FALLBACK_LIMIT), blocks)


def conversation(answer: Answer, feedback_on: str | None = None) -> SlackMessage:
    """A short plain reply; for feedback in words, the button that opens the 👎 form."""
    text = escape(answer.text.strip())
    blocks: list[Block] = [section(text)]
    if answer.act == "feedback" and feedback_on:
        blocks.append(reason_button(feedback_on, answer.question, answer.language))
    return SlackMessage(clip(text, FALLBACK_LIMIT), blocks)


# ---------------------------------------------------------------------- the article


def headline(card: ArticleCard) -> str:
    """The headline as a link, then outlet and date."""
    from_ = ", ".join(p for p in (card.outlet, card.published) if p)
    linked = link(card.url, card.title) if card.url else escape(card.title)
    return f"{linked} — {escape(from_)}" if from_ else linked


def gist_blocks(answer: Answer, card: ArticleCard) -> list[Block]:
    """The summary first, then the headline and the scorecard."""
    lang = answer.language
    summary = card.summary.get(lang) or (answer.lead.text if answer.lead else "")
    body = escape(summary.strip()) if summary else escape(message("gist.no_summary", lang))
    return [
        section(body),
        section(f"*{message('card.headline', lang)}:* {headline(card)}"),
        context(escape(scorecard_line(card.scorecard, card.notes_total, lang))),
    ]


def first_sentence(text: str) -> str:
    line = " ".join(text.split())
    match = re.search(r"(?<=[.!?])\s+(?=[A-ZÀ-ÖØ-Þ«“\"(])", line)
    return line[: match.start()] if match else line


def reliability_line(note: FactCheckRef, language: Language) -> str:
    """One note in one line: its mark and label, the claim, and what is true."""
    claim = escape(clip(" ".join(note.claim.split()), CLAIM_MAX))
    true = escape(clip(first_sentence(note.summary), TRUE_MAX))
    return f"{verdict(note.verdict).shortcode} *{escape(note.label)}* — « {claim} » → {true}"


def reliability_blocks(answer: Answer, most_lines: int = 12) -> list[Block]:
    """The scorecard, then the non-accurate notes in one line each (as many as `most_lines`,
    in sections within the section limit), then where the rest are."""
    lang = answer.language
    blocks: list[Block] = []
    if answer.lead is not None:
        blocks.append(section(lead_text(answer.lead, lang)))
    head = []
    if answer.card is not None:
        card = answer.card
        head.append(f"*{escape(scorecard_line(card.scorecard, card.notes_total, lang))}*")
    notes = answer.factchecks
    head.append(escape(message("reliability.intro" if notes else "reliability.sound", lang)))
    blocks.append(section("\n".join(head)))
    lines = [reliability_line(n, lang) for n in notes[:most_lines]]
    if len(notes) > most_lines:
        lines.append(escape(message("and_more", lang, n=len(notes) - most_lines)))
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > SECTION_LIMIT:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    blocks.append(context(escape(message("reliability.more", lang))))
    return blocks


def card_blocks(card: ArticleCard, language: Language, with_header: bool = True) -> list[Block]:
    """The article card: headline, outlet, date, language, link, summary, scorecard."""
    blocks: list[Block] = []
    if with_header:
        blocks.append(header(f"📰 {card.title or message('card.title', language)}"))
    lang_name = (
        message(f"language.{card.language}", language)
        if card.language in ("fr", "en")
        else card.language
    )
    facts = [
        f"*{message('card.outlet', language)}:* {escape(card.outlet or '—')}",
        f"*{message('card.published', language)}:* {escape(card.published or '—')}",
        f"*{message('card.language', language)}:* {escape(lang_name or '—')}",
        f"*{message('card.link', language)}:* {headline(card)}",
    ]
    blocks.append(section("\n".join(facts)))
    summary = card.summary.get(language, "").strip()
    if summary:
        blocks.append(section(f"*{message('card.summary', language)}*\n{escape(summary)}"))
    score = scorecard_line(card.scorecard, card.notes_total, language)
    blocks.append(context(escape(score), escape(message("reliability.more", language))))
    return blocks


def render_card(card: ArticleCard, language: Language) -> SlackMessage:
    """What `/about` shows (and what is posted on joining a channel, when enabled)."""
    fallback = f"{card.title} — {card.outlet}, {card.published}: {card.url}"
    return SlackMessage(clip(escape(fallback), FALLBACK_LIMIT), card_blocks(card, language))


# ---------------------------------------------------------------------- feedback in words


def reason_button(answer_id: str, written: str, language: Language) -> Block:
    """The button that opens the 👎 reason form for `answer_id`, pre-filled with `written`."""
    value = json.dumps({"answer": answer_id, "text": written[:REASON_MAX], "lang": language})
    return {
        "type": "actions",
        "block_id": "factbot_feedback_words",
        "elements": [
            {
                "type": "button",
                "action_id": FEEDBACK_ACTION,
                "text": {
                    "type": "plain_text",
                    "text": clip("👎 " + message("feedback.reason_open", language), 75),
                    "emoji": True,
                },
                "value": value,
                "accessibility_label": clip(
                    message("feedback.reason_open", language), BUTTON_TEXT_LIMIT
                ),
            }
        ],
    }


def pressed_reason(value: str) -> tuple[str, str, Language]:
    """The answer id, the text and the language a `reason_button` carries."""
    try:
        data: Any = json.loads(value or "{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    language: Language = "fr" if data.get("lang") == "fr" else "en"
    return str(data.get("answer") or ""), str(data.get("text") or ""), language


def help_message(intro: str, commands: Sequence[str]) -> SlackMessage:
    """`/help`: who the bot is, then one line a command."""
    text = "\n".join([escape(intro), "", *commands])
    return SlackMessage(clip(escape(intro), FALLBACK_LIMIT), [section(text)])
