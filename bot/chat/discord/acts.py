"""Render every kind of reply (`Answer.act`) for Discord: pure functions, no I/O.

- a fact answer (or a refusal): the answer embed of `render.answer_spec`;
- gist: the summary, the headline and the verdict scorecard;
- reliability: the scorecard, then the notes that are not accurate, most serious first, one line
  each (claim → what is true), clipped to fit, pointing to /factcheck for the rest;
- about: the article card (`/about` shows the same card);
- multi: one embed per part, each with its own lead, all within one message's limits;
- greeting, thanks, help, feedback in words: a short plain message — no quotes, no notes and
  no 👍/👎 (a conversation reply is not an answer about the article, so there is nothing to
  vote on); feedback in words is offered the 👎 reason form instead (`reason_button`).

The wording is the catalogue's (bot/messages.py), the same as on Slack.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import discord
from discord.utils import escape_markdown

from bot.answer import Answer, ArticleCard, FactCheckRef, Language, Link
from bot.chat.discord.render import (
    COLOUR_ANSWER,
    DESCRIPTION_MAX,
    EMBED_TOTAL_MAX,
    EmbedSpec,
    _colour,
    _link,
    answer_spec,
    clip_message,
    dlen,
    lead_lines,
    quote_user_text,
    truncate,
)
from bot.messages import scorecard_line
from bot.messages import text as message
from index.verdicts import verdict

EMBEDS_MAX = 10  # embeds per message; EMBED_TOTAL_MAX counts them all together
CLAIM_MAX = 160  # a reliability line: the claim, then what is true, within one line's budget
TRUE_MAX = 240
ARTICLE_EMOJI = "📰"
# A bare acknowledgement in a thread the bot follows gets this reaction instead of a message.
ACK_REACTION = "👌"

# The button under a reply to feedback in words: it opens the 👎 reason form for the answer the
# feedback is about (the answer id rides in the custom_id, so a press works after a restart).
FEEDBACK_ID = re.compile(r"factbot:feedback:(?P<answer>[A-Za-z0-9_-]{1,32})")


@dataclass(frozen=True)
class Reply:
    """A message to send: plain `content` and/or `embeds`; `votable`: it gets 👍/👎."""

    content: str = ""
    embeds: tuple[discord.Embed, ...] = ()
    votable: bool = True


def reply(answer: Answer) -> Reply:
    """What to send for `answer`, whatever its act."""
    if answer.is_conversation:
        return Reply(content=clip_message(answer.text.strip()), votable=False)
    if answer.act == "multi" and answer.parts:
        return Reply(embeds=tuple(s.to_embed() for s in multi_specs(answer)))
    return Reply(embeds=(act_spec(answer).to_embed(),))


def act_spec(answer: Answer) -> EmbedSpec:
    """One answer (not multi) as one embed."""
    if answer.refused:
        return answer_spec(answer)
    if answer.act == "gist" and answer.card is not None:
        return gist_spec(answer, answer.card)
    if answer.act == "reliability":
        return reliability_spec(answer)
    if answer.act == "about" and answer.card is not None:
        return card_spec(answer.card, answer.language, answer)
    if answer.is_conversation:
        return EmbedSpec(description=escape_markdown(answer.text.strip()), language=answer.language)
    return answer_spec(answer)


def multi_specs(answer: Answer) -> list[EmbedSpec]:
    """One embed per part, in order, sharing the message's 6000 characters equally."""
    parts = answer.parts[:EMBEDS_MAX]
    share = EMBED_TOTAL_MAX // len(parts)
    specs = []
    for n, part in enumerate(parts, 1):
        spec = act_spec(part)
        # The part's own question, numbered, as its title.
        spec.title = f"{n}. {quote_user_text(part.question)}"
        if n < len(parts):
            spec.footer = ""  # one footer (legend, index version) for the whole message
        specs.append(spec.fit(share))
    return specs


# ---------------------------------------------------------------------- the article


def _title(answer: Answer) -> str:
    return "❓ " + quote_user_text(answer.question)


def headline(card: ArticleCard) -> str:
    """The headline as a link, then outlet and date: "[Title](url) (host) — Outlet, 2019-03"."""
    from_ = ", ".join(p for p in (card.outlet, card.published) if p)
    linked = _link_title(card)
    return f"{linked} — {escape_markdown(from_)}" if from_ else linked


def _link_title(card: ArticleCard) -> str:
    return _link(Link(card.title, card.url), limit=400) or escape_markdown(card.title)


def scorecard(card: ArticleCard, language: Language) -> str:
    return scorecard_line(card.scorecard, card.notes_total, language)


def gist_spec(answer: Answer, card: ArticleCard) -> EmbedSpec:
    """The summary first, then the headline and the scorecard."""
    lang = answer.language
    summary = card.summary.get(lang) or (answer.lead.text if answer.lead else "")
    parts = [escape_markdown(summary.strip()) if summary else message("gist.no_summary", lang)]
    fields = [
        (message("card.headline", lang), headline(card)),
        (message("answer.factcheck", lang), escape_markdown(scorecard(card, lang))),
    ]
    return EmbedSpec(
        _title(answer),
        "\n".join(parts),
        COLOUR_ANSWER,
        fields,
        footer=message("reliability.more", lang),
        url=None,
        language=lang,
    )


def first_sentence(text: str) -> str:
    """The first sentence of a note's summary (one line): what is true, in short."""
    line = " ".join(text.split())
    match = re.search(r"(?<=[.!?])\s+(?=[A-ZÀ-ÖØ-Þ«“\"(])", line)
    return line[: match.start()] if match else line


def reliability_line(note: FactCheckRef, language: Language) -> str:
    """One note in one line: its mark and label, the claim, and what is true."""
    claim = truncate(escape_markdown(" ".join(note.claim.split())), CLAIM_MAX)
    true = truncate(escape_markdown(first_sentence(note.summary)), TRUE_MAX)
    mark = verdict(note.verdict).emoji
    return f"{mark} **{escape_markdown(note.label)}** — « {claim} » → {true}"


def reliability_lines(
    notes: Sequence[FactCheckRef], language: Language, budget: int
) -> tuple[list[str], int]:
    """As many note lines as fit in `budget` characters, most serious first (the core's
    order); and how many were left out."""
    lines: list[str] = []
    used = 0
    for note in notes:
        line = reliability_line(note, language)
        if used + dlen(line) + 1 > budget:
            break
        lines.append(line)
        used += dlen(line) + 1
    return lines, len(notes) - len(lines)


def reliability_spec(answer: Answer) -> EmbedSpec:
    """The scorecard, then the notes that are not accurate, each in one line, then /factcheck."""
    lang = answer.language
    head: list[str] = []
    if answer.lead is not None:  # the most serious note's correction, first as everywhere
        head += [lead_lines(answer.lead, lang), ""]
    if answer.card is not None:
        head.append(f"**{escape_markdown(scorecard(answer.card, lang))}**")
    notes = answer.factchecks
    head.append(message("reliability.intro" if notes else "reliability.sound", lang))
    more = message("reliability.more", lang)
    # Room for the title, the footer and the "and N more" line.
    budget = min(DESCRIPTION_MAX, EMBED_TOTAL_MAX - 400) - sum(dlen(h) + 1 for h in head) - 120
    lines, hidden = reliability_lines(notes, lang, budget)
    if hidden:
        lines.append(message("and_more", lang, n=hidden))
    description = "\n".join([*head, "", *lines]) if lines else "\n".join(head)
    return EmbedSpec(_title(answer), description, _colour(notes), footer=more, language=lang)


def card_spec(card: ArticleCard, language: Language, answer: Answer | None = None) -> EmbedSpec:
    """The article card: headline (linked), outlet, date, language, summary, scorecard. Under
    an about answer, its lead first."""
    parts: list[str] = []
    if answer is not None and answer.lead is not None:
        parts += [lead_lines(answer.lead, language), ""]
    summary = card.summary.get(language, "").strip()
    if summary:
        parts.append(escape_markdown(summary))
    fields = [
        (message("card.outlet", language), escape_markdown(card.outlet or "—")),
        (message("card.published", language), escape_markdown(card.published or "—")),
        (
            message("card.language", language),
            message(f"language.{card.language}", language)
            if card.language in ("fr", "en")
            else escape_markdown(card.language or "—"),
        ),
        (message("card.link", language), _link_title(card)),
        (message("answer.factcheck", language), escape_markdown(scorecard(card, language))),
    ]
    title = (
        _title(answer)
        if answer is not None
        else f"{ARTICLE_EMOJI} {escape_markdown(card.title) or message('card.title', language)}"
    )
    url = card.url if answer is None and card.url.startswith(("http://", "https://")) else None
    return EmbedSpec(
        title,
        "\n".join(parts),
        COLOUR_ANSWER,
        fields,
        footer=message("reliability.more", language),
        url=url,
        language=language,
    )


def card_embed(card: ArticleCard, language: Language) -> discord.Embed:
    """What `/about` shows (and what is posted on joining a server, when enabled)."""
    return card_spec(card, language).to_embed()


# ---------------------------------------------------------------------- feedback in words


def reason_custom_id(answer_id: str) -> str:
    return f"factbot:feedback:{answer_id}"


def reason_button(answer_id: str, language: Language) -> discord.ui.View:
    """One button that opens the 👎 reason form for `answer_id` (the answer the feedback in
    words is about). Nothing kept in memory: the client's `on_interaction` handles the press."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            style=discord.ButtonStyle.secondary,
            emoji="👎",
            label=truncate(message("feedback.reason_open", language), 80),
            custom_id=reason_custom_id(answer_id),
        )
    )
    view.stop()
    return view
