"""Turn `Answer`s, fact-check notes and index records into Discord embeds and messages.

Pure functions, no I/O: everything here is unit-tested with hand-built values. Every string that
reaches Discord goes through `truncate` with the documented limit, and whole embeds through
`fit_embed`, so a huge corpus note or question can never make Discord reject a reply (HTTP 400).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import discord
from discord.utils import escape_markdown, escape_mentions

from bot.answer import Answer, FactCheckRef, Language, Lead, Link, SourceRef
from bot.answering.status import IndexInfo, ReindexReport
from bot.learning.notify import AnsweredLater, Correction
from bot.learning.report import Group, Report, loop_lines
from bot.messages import lead_origin
from bot.messages import text as message
from index.verdicts import VERDICTS, verdict

# Discord limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000  # title + description + field names/values + footer + author, per message
MESSAGE_MAX = 2000
THREAD_NAME_MAX = 100
MAX_CHANGES = 20  # lines of a /reindex report
MAX_PROBLEMS = 15  # lines of a failed /reindex

ELLIPSIS = "…"

# Embeds without a verdict; an embed with verdicts takes its colour from `index.verdicts`.
COLOUR_ANSWER = discord.Colour.blurple()
COLOUR_REFUSED = discord.Colour.light_grey()

# What the footer's legend explains: the marks warning verdicts carry (one today, ⚠️).
WARNING_EMOJI = "/".join(dict.fromkeys(v.emoji for v in VERDICTS.values() if v.warning))

# Markdown tokens that must stay whole: links (also masked ones with <url>), bare URLs,
# mentions / channels / custom emoji, and timestamps.
_ATOMIC = re.compile(
    r"\[(?:[^\[\]\\]|\\.)*\]\(<?[^()\s<>]*(?:\([^()\s]*\)[^()\s<>]*)*>?\)"
    r"|<?https?://[^\s<>]+>?"
    r"|<(?:@[!&]?|#|a?:\w+:|t:)\d+(?::\w)?>"
)
# Paired markers, longest first so "**" is not read as two "*".
_MARKER_RE = re.compile(r"\\.|```|\*\*|__|~~|\|\||`", re.S)


def dlen(text: str) -> int:
    """Length as Discord may count it (UTF-16 code units): never less than `len(text)`."""
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, budget: int) -> int:
    """The largest index `i` with `dlen(text[:i]) <= budget`."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > budget:
            return i
    return len(text)


def _closers(text: str) -> str:
    """Markers to append so that every bold/italic/code/spoiler opened in `text` is closed."""
    open_: list[str] = []
    in_block = False
    for match in _MARKER_RE.finditer(text):
        token = match.group()
        if token.startswith("\\"):
            continue  # an escaped character is literal
        if token == "```":
            in_block = not in_block
            continue
        if in_block:
            continue  # markdown is not parsed inside a code block
        if open_ and open_[-1] == token:
            open_.pop()
        elif token in open_:
            # Closing an outer marker implicitly: drop everything opened after it.
            del open_[open_.index(token) :]
        else:
            open_.append(token)
    suffix = "".join(reversed(open_))
    return ("\n```" if in_block else "") + suffix


def truncate(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """`text` cut to at most `limit` (UTF-16) characters, ending with `ellipsis` when cut.

    The cut never falls inside a markdown link, a URL or a mention (the whole token is dropped
    instead), prefers a word boundary, and closes any bold/code/spoiler left open.
    """
    if dlen(text) <= limit:
        return text
    if limit <= dlen(ellipsis):
        return text[: _prefix_within(text, limit)]
    budget = limit - dlen(ellipsis)
    while True:
        cut = _prefix_within(text, budget)
        for token in _ATOMIC.finditer(text):
            if token.start() < cut < token.end():
                cut = token.start()
                break
            if token.start() >= cut:
                break
        head = text[:cut]
        # Prefer a word boundary when one is close (within 15% of the budget).
        space = max(head.rfind(" "), head.rfind("\n"))
        if cut < len(text) and not text[cut].isspace() and space >= cut - max(8, budget // 7):
            head = head[:space]
        head = head.rstrip()
        while head.endswith("\\"):  # a dangling escape would swallow the ellipsis
            head = head[:-1].rstrip()
        result = head + ellipsis + _closers(head)
        excess = dlen(result) - limit
        if excess <= 0:
            return result
        budget -= excess


def clip_message(text: str) -> str:
    """A plain message within Discord's 2000-character limit."""
    return truncate(text, MESSAGE_MAX)


def quote_user_text(text: str) -> str:
    """User text echoed back: markdown and mentions neutralised (belt and braces with
    `AllowedMentions.none()`: the text must also *look* like what the user typed)."""
    return escape_mentions(escape_markdown(text))


def _link(link: Link, limit: int = 200) -> str:
    title = truncate(link.title.strip() or link.url, 80).replace("[", "(").replace("]", ")")
    url = link.url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    if not url.startswith(("http://", "https://")):
        return escape_markdown(title)
    text = f"[{escape_markdown(title)}]({url})"
    host = link.host
    if host and title != link.url:  # the host beside the title: a title cannot fake a site
        text += f" ({escape_markdown(host)})"
    return text if dlen(text) <= limit else f"<{url}>" if dlen(url) + 2 <= limit else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _colour(notes: Sequence[FactCheckRef]) -> discord.Colour:
    """The colour of the most serious verdict: the first warning's, else the first note's."""
    if not notes:
        return COLOUR_ANSWER
    first = next((n for n in notes if n.is_warning), notes[0])
    return discord.Colour(verdict(first.verdict).colour)


def _bullets(lines: Sequence[str], most: int, language: Language) -> str:
    """At most `most` bulleted lines, the last saying how many were left out."""
    shown = [f"• {line}" for line in lines[:most]]
    if len(lines) > most:
        shown.append(f"• {message('and_more', language, n=len(lines) - most)}")
    return "\n".join(shown)


# ---------------------------------------------------------------------- embeds as plain data


@dataclass
class EmbedSpec:
    """An embed before it becomes a `discord.Embed`; `fit()` enforces every limit."""

    title: str = ""
    description: str = ""
    colour: discord.Colour = COLOUR_ANSWER
    fields: list[tuple[str, str]] = field(default_factory=list)
    footer: str = ""
    url: str | None = None
    language: Language = "en"  # of the note `fit()` adds when it drops fields

    def total(self) -> int:
        return (
            dlen(self.title)
            + dlen(self.description)
            + sum(dlen(n) + dlen(v) for n, v in self.fields)
            + dlen(self.footer)
        )

    def fit(self, total_max: int = EMBED_TOTAL_MAX) -> EmbedSpec:
        """Apply the per-part limits, then shrink to `total_max`: trim the description (keeping
        a few hundred characters), then drop fields from the end (noted in the footer)."""
        self.title = truncate(self.title, TITLE_MAX)
        self.description = truncate(self.description, DESCRIPTION_MAX)
        self.fields = [
            (truncate(n, FIELD_NAME_MAX) or "\u200b", truncate(v, FIELD_VALUE_MAX) or "\u200b")
            for n, v in self.fields
        ]
        dropped = max(0, len(self.fields) - FIELDS_MAX)
        self.fields = self.fields[:FIELDS_MAX]
        base = self.footer.strip()
        while True:
            note = f" (+{message('more_not_shown', self.language, n=dropped)})" if dropped else ""
            self.footer = (truncate(base, FOOTER_MAX - dlen(note)) + note).strip()
            excess = self.total() - total_max
            if excess <= 0:
                return self
            # Cheapest first: a long description, a long footer, then whole fields.
            if dlen(self.description) > 600:
                keep = max(600, dlen(self.description) - excess)
                self.description = truncate(self.description, keep)
            elif dlen(base) > 200:
                base = truncate(base, max(200, dlen(base) - excess))
            elif self.fields:
                self.fields.pop()
                dropped += 1
            else:  # only title, a short description and footer are left: cut them all
                self.title = truncate(self.title, 100)
                keep = max(0, dlen(self.description) - excess)
                self.description = truncate(self.description, keep)
                base = truncate(base, 100)

    def to_embed(self) -> discord.Embed:
        self.fit()
        embed = discord.Embed(
            title=self.title or None,
            description=self.description or None,
            colour=self.colour,
            url=self.url if self.title and self.url else None,
        )
        for name, value in self.fields:
            embed.add_field(name=name, value=value, inline=False)
        if self.footer:
            embed.set_footer(text=self.footer)
        return embed


# ---------------------------------------------------------------------- answers


def _quote_lines(source: SourceRef, language: Language) -> str:
    ref = f"§{source.paragraph}" if source.paragraph is not None else source.doc
    url = source.url if source.url and source.url.startswith(("http://", "https://")) else None
    ref = f"[{ref}]({url})" if url else ref
    lines = [f"> « {escape_markdown(_one_line(source.quote))} » — {ref}"]
    if source.translation and language == "en":
        lines.append(f"> *“{escape_markdown(_one_line(source.translation))}”*")
    return "\n".join(lines)


def lead_lines(lead: Lead, language: Language) -> str:
    """The lead: the sentence that best answers the question, and where it comes from."""
    origin = escape_markdown(lead_origin(lead, language))
    title = message("lead.title", language)
    return f"**{title}:** {escape_markdown(_one_line(lead.text))}\n*— {origin}*"


def factcheck_field(note: FactCheckRef, language: Language) -> tuple[str, str]:
    """One note as an embed field: verdict in the name; claim, what is true and links inside."""
    name = f"{verdict(note.verdict).emoji} {note.label}"
    links = " · ".join(s for s in (_link(link) for link in note.sources[:3]) if s)
    claim = (
        f"**{message('answer.claim', language)}:** « {truncate(escape_markdown(note.claim), 300)} »"
    )
    # The summary gets whatever room the claim and the links leave.
    room = FIELD_VALUE_MAX - dlen(claim) - dlen(links) - 40
    summary = truncate(escape_markdown(note.summary.strip()), max(80, room))
    value = f"{claim}\n**{message('answer.true', language)}:** {summary}"
    if links and dlen(value) + dlen(links) + 1 <= FIELD_VALUE_MAX:
        value += "\n" + links
    return truncate(name, FIELD_NAME_MAX), truncate(value, FIELD_VALUE_MAX)


def answer_spec(answer: Answer) -> EmbedSpec:
    lang = answer.language
    title = "❓ " + quote_user_text(answer.question)
    if answer.refused:
        description = (
            f"**{message('answer.not_covered', lang)}.**\n{escape_markdown(answer.text.strip())}\n\n"
            f"*{message('answer.refused_hint', lang)}*"
        )
        return EmbedSpec(
            title, description, COLOUR_REFUSED, footer=_version_footer(answer), language=lang
        )
    quotes = [s for s in answer.sources if s.kind == "article"]
    noted = {f.id for f in answer.factchecks}
    extra_notes = [s for s in answer.sources if s.kind == "factcheck" and s.doc not in noted]
    parts: list[str] = []
    if answer.lead is not None:  # the direct answer first, then the evidence
        parts += [lead_lines(answer.lead, lang), ""]
    if quotes:
        parts.append(f"**{message('answer.article', lang)}**")
        parts += [_quote_lines(s, lang) for s in quotes]
    for s in extra_notes:  # never the note's id: users read the note's words, not ours
        parts.append(f"**{message('answer.from_note', lang)}**")
        parts.append(f"> {escape_markdown(_one_line(s.quote))}")
    if not parts:  # an answer with nothing structured: fall back on the core's text
        parts.append(escape_markdown(answer.text.strip()))
    description = "\n".join(parts)
    fields = [factcheck_field(f, lang) for f in answer.factchecks]
    colour = _colour(answer.factchecks)
    return EmbedSpec(title, description, colour, fields, _version_footer(answer), language=lang)


def _version_footer(answer: Answer) -> str:
    lang = answer.language
    parts = [
        message("answer.footer", lang),
        message("answer.warning_legend", lang, mark=WARNING_EMOJI),
    ]
    if answer.index_version:
        parts.append(message("answer.index", lang, version=answer.index_version))
    return " · ".join(parts)


def answer_embed(answer: Answer) -> discord.Embed:
    """The public reply to a question: quotes with § refs, verdicts, or "not covered"."""
    return answer_spec(answer).to_embed()


def thread_name(question: str) -> str:
    """A thread title from a question: one line, 1 to 100 characters."""
    line = " ".join(question.split())
    return truncate(line, THREAD_NAME_MAX) or message("answer.thread", "en")


# ---------------------------------------------------------------------- /factcheck, /sources


def factcheck_specs(
    notes: Sequence[FactCheckRef],
    topic: str | None,
    language: Language,
    max_pages: int = 4,
) -> list[EmbedSpec]:
    """The notes as pages of embed fields (each page one message, within every limit)."""
    if topic:
        title = message("notes.topic", language, topic=quote_user_text(topic))
    else:
        title = message("notes.title", language, n=len(notes))
    if not notes:
        none = f"{message('notes.none', language)} {message('notes.browse_all', language)}"
        return [EmbedSpec(title, none, COLOUR_REFUSED, language=language)]
    colour = _colour(notes)
    pages: list[EmbedSpec] = [EmbedSpec(title, colour=colour, language=language)]
    # Reserve room for the title, footer and a margin so `fit()` never has to drop a field.
    page_budget = EMBED_TOTAL_MAX - TITLE_MAX - 200
    shown = 0
    for note in notes:
        entry = factcheck_field(note, language)
        page = pages[-1]
        size = dlen(entry[0]) + dlen(entry[1])
        if len(page.fields) >= FIELDS_MAX or page.total() + size > page_budget:
            if len(pages) == max_pages:
                break
            page = EmbedSpec(title, colour=colour, language=language)
            pages.append(page)
        page.fields.append(entry)
        shown += 1
    hidden = len(notes) - shown
    if len(pages) > 1:
        for i, page in enumerate(pages, 1):
            page.footer = message("notes.page", language, i=i, n=len(pages))
    if hidden:
        more = message("notes.more", language, n=hidden)
        pages[-1].footer = f"{pages[-1].footer} · {more}".strip(" ·")
    return [p.fit() for p in pages]


def factcheck_embeds(
    notes: Sequence[FactCheckRef], topic: str | None, language: Language, max_pages: int = 4
) -> list[discord.Embed]:
    return [s.to_embed() for s in factcheck_specs(notes, topic, language, max_pages)]


def sources_spec(info: IndexInfo, language: Language = "en") -> EmbedSpec:
    docs = []
    for d in info.documents:
        name = escape_markdown(d.title)
        url = d.url if d.url and d.url.startswith(("http://", "https://")) else None
        docs.append(f"• {_link(Link(d.title, url)) if url else name} — `{d.id}` ({d.language})")
    description = "\n".join(docs) or message("sources.no_documents", language)
    fields = [
        (message("sources.notes", language), str(info.note_count)),
        (message("sources.passages", language), str(info.chunk_count)),
        (message("sources.version", language), f"`{info.version}`"),
        (message("sources.model", language), f"`{info.model}`"),
        (message("sources.built", language), info.built_at),
    ]
    title = f"📚 {message('sources.title', language)}"
    return EmbedSpec(title, description, COLOUR_ANSWER, fields, language=language)


def sources_embed(info: IndexInfo, language: Language = "en") -> discord.Embed:
    """What `/sources` shows: documents, note count, index version, model, build time."""
    return sources_spec(info, language).to_embed()


# ---------------------------------------------------------------------- /reindex


def reindex_text(report: ReindexReport, language: Language = "en") -> str:
    """The moderator's ephemeral summary of a successful rebuild."""
    head = "✅ " + message("reindex.done", language, report=report)
    if report.coalesced:
        head += "\n" + message("reindex.joined", language)
    changes = [escape_markdown(c) for c in report.changes.lines(language)] or [
        message("reindex.no_change", language)
    ]
    listing = _bullets(changes, MAX_CHANGES, language)
    return clip_message(f"{head}\n**{message('reindex.changes', language)}**\n{listing}")


def reindex_failed_text(
    problems: Sequence[str], serving_version: str, language: Language = "en"
) -> str:
    """The moderator's ephemeral list of validation problems (the old index keeps serving)."""
    head = "❌ " + message("reindex.failed", language, version=serving_version)
    lines = [escape_markdown(p) for p in problems] or [message("reindex.no_detail", language)]
    return clip_message(head + "\n" + _bullets(lines, MAX_PROBLEMS, language))


# ---------------------------------------------------------------------- feedback (👍/👎)

# The buttons' custom_id carries the answer id, so a press is understood after a restart
# (discord_feedback.VoteButton is registered for this template). At most 100 characters.
VOTE_ID = re.compile(r"factbot:vote:(?P<vote>up|down):(?P<answer>[A-Za-z0-9_-]{1,32})")
REASON_ID = re.compile(r"factbot:reason:(?P<answer>[A-Za-z0-9_-]{1,32})")
REASON_INPUT_ID = "factbot:reason:text"
REASON_MAX = 300  # the store keeps 300 characters of a 👎's reason
VOTE_EMOJI = {"up": "👍", "down": "👎"}


def vote_custom_id(answer_id: str, vote: str) -> str:
    return f"factbot:vote:{vote}:{answer_id}"


def vote_button(answer_id: str, vote: str) -> discord.ui.Button[discord.ui.View]:
    """One 👍 or 👎 button (`vote` is "up" or "down") for the answer `answer_id`."""
    return discord.ui.Button(
        style=discord.ButtonStyle.secondary,
        emoji=VOTE_EMOJI[vote],
        custom_id=vote_custom_id(answer_id, vote),
    )


def reason_modal(answer_id: str, language: Language, default: str = "") -> discord.ui.Modal:
    """The optional "what was wrong?" form a 👎 opens (`default`: its text pre-filled).

    Stopped before it is sent, so discord.py keeps no state for it: the client handles its
    submission from the custom_id (`REASON_ID`), which also works after a restart."""
    modal = discord.ui.Modal(
        title=truncate(message("feedback.reason_title", language), 45),
        custom_id=f"factbot:reason:{answer_id}",
        timeout=None,
    )
    field_ = discord.ui.TextInput[discord.ui.Modal](
        custom_id=REASON_INPUT_ID,
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=REASON_MAX,
        placeholder=truncate(message("feedback.reason_placeholder", language), 100),
        default=default[:REASON_MAX] or None,
    )
    label = truncate(message("feedback.reason_label", language), 45)
    modal.add_item(discord.ui.Label(text=label, component=field_))
    modal.stop()
    return modal


def submitted_reason(data: object) -> str:
    """The reason typed into `reason_modal`, from a modal submit's `data` ("" when none).

    Walks both layouts Discord sends: a Label (type 18) holding the input, or an action row."""

    def walk(node: object) -> str | None:
        if isinstance(node, dict):
            if node.get("custom_id") == REASON_INPUT_ID and isinstance(node.get("value"), str):
                return str(node["value"])
            for key in ("components", "component"):
                found = walk(node.get(key))
                if found is not None:
                    return found
        elif isinstance(node, list):
            for child in node:
                found = walk(child)
                if found is not None:
                    return found
        return None

    return (walk(data) or "").strip()


# ---------------------------------------------------------------------- closing the loop

# 🔔 and "Ask a moderator" under a refused answer or a 👎's reply carry the answer id; the
# moderators' request carries the hand-off's public id: understood after a restart too.
SUBSCRIBE_ID = re.compile(r"factbot:loop:sub:(?P<answer>[A-Za-z0-9_-]{1,32})")
HANDOFF_ID = re.compile(r"factbot:loop:ask:(?P<answer>[A-Za-z0-9_-]{1,32})")
WRITE_NOTE_ID = re.compile(r"factbot:loop:note:(?P<handoff>[A-Za-z0-9_-]{1,40})")
RESOLVE_ID = re.compile(r"factbot:loop:resolve:(?P<handoff>[A-Za-z0-9_-]{1,40})")
HANDOFF_FORM_ID = re.compile(r"factbot:loop:form:(?P<handoff>[A-Za-z0-9_-]{1,40})")


def subscribe_custom_id(answer_id: str) -> str:
    return f"factbot:loop:sub:{answer_id}"


def handoff_custom_id(answer_id: str) -> str:
    return f"factbot:loop:ask:{answer_id}"


def loop_buttons(
    answer_id: str, language: Language, ask_moderator: bool
) -> list[discord.ui.Button[discord.ui.View]]:
    """🔔 "Tell me when it's answered", and "Ask a moderator" where a moderators' channel is
    configured, for the answer `answer_id`."""
    buttons: list[discord.ui.Button[discord.ui.View]] = [
        discord.ui.Button(
            style=discord.ButtonStyle.secondary,
            label=truncate(message("loop.subscribe_button", language), 80),
            custom_id=subscribe_custom_id(answer_id),
        )
    ]
    if ask_moderator:
        buttons.append(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label=truncate(message("loop.handoff_button", language), 80),
                custom_id=handoff_custom_id(answer_id),
            )
        )
    return buttons


def request_buttons(public_id: str, language: Language) -> discord.ui.View:
    """Write a note and Mark resolved under a moderators' request; nothing kept in memory."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            style=discord.ButtonStyle.primary,
            label=truncate(message("loop.write_note", language), 80),
            custom_id=f"factbot:loop:note:{public_id}",
        )
    )
    view.add_item(
        discord.ui.Button(
            style=discord.ButtonStyle.success,
            label=truncate(message("loop.mark_resolved", language), 80),
            custom_id=f"factbot:loop:resolve:{public_id}",
        )
    )
    view.stop()
    return view


def request_text(lines: Sequence[str], where: str | None) -> str:
    """The moderators' request: the flow's lines (the member's words escaped), and a link to
    the thread it came from."""
    head, *rest = lines
    body = [head, *(escape_markdown(line) for line in rest)]
    if where:
        body.append(where)
    return clip_message("\n".join(body))


def correction_text(correction: Correction) -> str:
    """A correction posted in the thread of an earlier answer (one message for a burst)."""
    head, *rest = correction.lines()
    return clip_message("\n".join([f"**{escape_markdown(head)}**", *map(escape_markdown, rest)]))


def answered_later(notice: AnsweredLater) -> tuple[str, discord.Embed]:
    """A subscribed question now answered: the two lines, and the answer as usual."""
    title, asked = notice.lines()
    content = clip_message(f"**{escape_markdown(title)}**\n{escape_markdown(asked)}")
    return content, answer_embed(notice.answer)


# ---------------------------------------------------------------------- /unanswered

MAX_GROUPS = 15  # per list
LIST_BUDGET = 2400  # characters per list: two lists and the totals fit one 6000-character embed


def _group_line(group: Group, with_votes: bool) -> list[str]:
    example = truncate(quote_user_text(_one_line(group.example)), 200)
    line = f"**{group.count}×** « {example} » ({', '.join(group.languages)})"
    if with_votes:
        line += f" · 👎 {group.downvotes} · 👍 {group.upvotes}"
    reasons = [f"  ↳ *{truncate(quote_user_text(_one_line(r)), 120)}*" for r in group.reasons]
    return [line, *reasons]


def _group_fields(
    heading: str, groups: Sequence[Group], with_votes: bool, language: Language
) -> list[tuple[str, str]]:
    """The groups as fields of at most 1024 characters, the first one named `heading`."""
    lines: list[str] = []
    shown = 0
    for group in groups[:MAX_GROUPS]:
        entry = _group_line(group, with_votes)
        # Each list keeps within its share of the embed, so that both lists always show.
        if shown and sum(dlen(x) + 1 for x in lines + entry) > LIST_BUDGET:
            break
        lines.extend(entry)
        shown += 1
    if len(groups) > shown:
        lines.append(message("and_more", language, n=len(groups) - shown))
    fields: list[tuple[str, str]] = []
    chunk = ""
    for line in lines:
        if chunk and dlen(chunk) + 1 + dlen(line) > FIELD_VALUE_MAX:
            fields.append((heading if not fields else "\u200b", chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        fields.append((heading if not fields else "\u200b", chunk))
    return fields


def report_spec(report: Report, language: Language = "en") -> EmbedSpec:
    """The moderators' report: totals, then the refused questions and the answers voted down,
    grouped, most frequent first."""
    t = report.totals
    lines = [
        message(
            "report.totals",
            language,
            questions=t.questions,
            answered=t.answered,
            refused=t.refused,
            rejected=t.rejected,
        ),
        message("report.votes", language, up=t.upvotes, down=t.downvotes),
    ]
    if t.by_language:
        parts = [
            message("report.language", language, lang=lang, **counts)
            for lang, counts in t.by_language.items()
        ]
        lines.append(message("report.by_language", language, languages=", ".join(parts)))
    if report.loop is not None:  # closing the loop: subscriptions, corrections, hand-offs
        lines += loop_lines(report.loop, language)
    lines.append(f"*{message('report.hint', language)}*")
    fields: list[tuple[str, str]] = []
    for groups, key, with_votes in (
        (report.refused, "report.refused", False),
        (report.downvoted, "report.downvoted", True),
    ):
        if not groups:
            fields.append((message(f"{key}_none", language), "\u200b"))
            continue
        heading = message(key, language, n=sum(g.count for g in groups), groups=len(groups))
        fields += _group_fields(heading, groups, with_votes, language)
    title = "📋 " + message("report.title", language, days=report.days)
    footer = f"{report.since:%Y-%m-%d %H:%M} → {report.until:%Y-%m-%d %H:%M} UTC"
    return EmbedSpec(
        title, "\n".join(lines), COLOUR_ANSWER, fields, footer, language=language
    ).fit()


def report_embed(report: Report, language: Language = "en") -> discord.Embed:
    """What `/unanswered` shows, privately to a moderator."""
    return report_spec(report, language).to_embed()
