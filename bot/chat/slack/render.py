"""Block Kit for Slack: pure functions from core records to `SlackMessage`s (no I/O, no slack_sdk).

Safety rules every function here follows:
- All text that did not come from this file (questions, corpus quotes, note summaries, titles,
  problems reported by a rebuild) goes through `escape`, so `&`, `<` and `>` can never form a
  `<!channel>`, `<!here>`, `<!everyone>` or `<!subteam^…>` ping, nor a link, and the words
  "@channel", "@here" and "@everyone" are broken by an invisible word joiner.
- Every mrkdwn text object is `verbatim`, so Slack does not auto-parse mentions in it either.
- Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks) are enforced by clipping:
  section text 3000 characters, header 150, context 10 elements, 50 blocks per message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.answer import Answer, FactCheckRef, Language, Lead, SourceRef, link_host
from bot.answering.status import IndexInfo, ReindexReport
from bot.learning.report import Group, Report, loop_lines
from bot.messages import lead_origin
from bot.messages import text as message
from index.verdicts import verdict

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
CONTEXT_LIMIT = 10
MAX_BLOCKS = 50
# The top-level `text` is only the notification / accessibility fallback when blocks are sent.
FALLBACK_LIMIT = 3000
MAX_LINKS = 3
ELLIPSIS = "…"

Block = dict[str, Any]

_BROADCAST_WORD = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_SLACK_MARKUP = re.compile(r"<([^<>]*)>")
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class SlackMessage:
    """What chat.postMessage / chat.postEphemeral / response_url take: fallback text + blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        """Keyword arguments for the Web API call or `respond()`."""
        out: dict[str, Any] = {"text": self.text}
        if self.blocks:
            out["blocks"] = self.blocks
        return out


# ---------------------------------------------------------------------------- text hygiene


def escape(text: str) -> str:
    """Make any text safe to show in mrkdwn: no markup, no mention, no broadcast ping."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A word joiner after "@" keeps "@here" readable but never a ping, even if Slack parses it.
    return _BROADCAST_WORD.sub(lambda m: "@\u2060" + m.group(1), text)


def slack_to_plain(text: str) -> str:
    """Slack's wire format of a user's message -> the plain text they meant.

    Mentions become readable names ("<@U1|ann>" -> "@ann", "<!here>" -> "@here"), links become
    their label or URL, and the entities Slack escapes (&amp; &lt; &gt;) are decoded. The result
    is what the core answers; it must be `escape`d again before it is echoed.
    """

    def plain(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith(("@", "#")):
            return target[0] + (label or target[1:])
        if target.startswith("!"):
            name = target[1:]
            if name.startswith(("subteam^", "date^")):
                return label or "@group"
            return "@" + name.split("^")[0]
        return label or target

    text = _SLACK_MARKUP.sub(plain, text or "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters with an ellipsis (for plain text)."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def clip_mrkdwn(text: str, limit: int) -> str:
    """Like `clip`, but never leaves half an entity (`&am`) or half a `<url|title>` link."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    lt = cut.rfind("<")
    if lt != -1 and ">" not in cut[lt:]:
        cut = cut[:lt]
    return cut.rstrip() + ELLIPSIS


def link(url: str, title: str) -> str:
    """A `<url|title>` link and its host, or the escaped title alone when the URL is not http(s)."""
    if not re.match(r"^https?://", url):
        return escape(title)
    safe_url = (
        url.replace("&", "&amp;")
        .replace("<", "%3C")
        .replace(">", "%3E")
        .replace("|", "%7C")
        .replace(" ", "%20")
    )
    shown = f"<{safe_url}|{escape(title) or safe_url}>"
    host = link_host(url)
    if host and title and title != url:  # the host beside the title: a title cannot fake a site
        shown += f" ({escape(host)})"
    return shown


def user_mention(user_id: str | None) -> str | None:
    """`<@U…>` for a well-formed Slack user id, else None (ids come from Slack, but be strict)."""
    if user_id and _SLACK_USER_ID.match(user_id):
        return f"<@{user_id}>"
    return None


def quote_lines(text: str) -> str:
    """Prefix every line with "> " so a multi-line text stays inside the block quote."""
    return "\n".join(f"> {line}" for line in text.splitlines() or [""])


# ---------------------------------------------------------------------------- blocks


def section(mrkdwn: str) -> Block:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": clip_mrkdwn(mrkdwn, SECTION_LIMIT), "verbatim": True},
    }


def header(text: str) -> Block:
    """A header: plain text, so only fixed strings of ours go here (never user text)."""
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": clip(text, HEADER_LIMIT), "emoji": True},
    }


def context(*mrkdwn: str) -> Block:
    elements = [
        {"type": "mrkdwn", "text": clip_mrkdwn(m, SECTION_LIMIT), "verbatim": True}
        for m in mrkdwn[:CONTEXT_LIMIT]
        if m
    ]
    return {"type": "context", "elements": elements}


def sections(lines: Sequence[str]) -> list[Block]:
    """`lines` in as few sections as the section limit allows (a long list split, not cut)."""
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > SECTION_LIMIT:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks


def divider() -> Block:
    return {"type": "divider"}


def cap_blocks(
    blocks: list[Block], language: Language = "en", limit: int = MAX_BLOCKS
) -> list[Block]:
    """At most `limit` (`MAX_BLOCKS`); the last kept block says how many were left out."""
    if len(blocks) <= limit:
        return blocks
    kept = blocks[: limit - 1]
    more = message("more_not_shown", language, n=len(blocks) - len(kept))
    return [*kept, context(f"{ELLIPSIS} {more}")]


# ---------------------------------------------------------------------------- answers


def quote_text(source: SourceRef, language: Language) -> str:
    """One article quote as a block quote: « French sentence » §N, then the aligned English."""
    where = f" _§{source.paragraph}_" if source.paragraph is not None else ""
    lines = [f"« {escape(source.quote)} »{where}"]
    if source.translation and language == "en":
        lines.append(f"_“{escape(source.translation)}”_")
    return quote_lines("\n".join(lines))


def lead_text(lead: Lead, language: Language) -> str:
    """The lead: the sentence that best answers the question, and where it comes from."""
    title = message("lead.title", language)
    return f"*{title}:* {escape(lead.text)}\n_— {escape(lead_origin(lead, language))}_"


def note_source_text(source: SourceRef, language: Language) -> str:
    """A fact-check note quoted as a source (when it is not also shown as a verdict)."""
    text = f"*{message('answer.from_note', language)}*\n{quote_lines(escape(source.quote))}"
    if source.url:
        text += "\n" + link(source.url, source.url)
    return text


def factcheck_text(note: FactCheckRef, language: Language) -> str:
    """A verdict: emoji and label, the claim quoted, what is true, and up to three links."""
    heading = message("answer.factcheck", language)
    lines = [
        f"{verdict(note.verdict).shortcode} *{heading} — {escape(note.label)}*",
        quote_lines(f"« {escape(note.claim)} »"),
        f"*{message('answer.true', language)}:* {escape(note.summary)}",
    ]
    links = [link(s.url, s.title) for s in note.sources[:MAX_LINKS]]
    if links:
        lines.append(" · ".join(links))
    return "\n".join(lines)


def render_answer(
    answer: Answer, asker: str | None = None, answer_id: str | None = None
) -> SlackMessage:
    """An answer: who asked what, the lead, the quotes, one section per verdict; or the
    refusal. With
    `answer_id`, 👍/👎 buttons end it."""
    if not answer_id:
        return _answer_blocks(answer, asker, MAX_BLOCKS)
    shown = _answer_blocks(answer, asker, MAX_BLOCKS - 1)
    return SlackMessage(shown.text, [*shown.blocks, feedback_block(answer_id, answer.language)])


def _answer_blocks(answer: Answer, asker: str | None, most: int) -> SlackMessage:
    lang = answer.language
    blocks: list[Block] = []
    mention = user_mention(asker)
    asked = f"{mention} {message('answer.asked', lang)}: " if mention else ""
    blocks.append(context(f"{asked}_{escape(answer.question)}_"))
    if answer.refused:
        not_covered = message("answer.not_covered", lang)
        blocks.append(section(f":grey_question: *{not_covered}.* {escape(answer.text)}"))
        fallback = f"{not_covered}. {answer.text}"
        return SlackMessage(clip(escape(fallback), FALLBACK_LIMIT), cap_blocks(blocks, lang, most))

    if answer.lead is not None:  # the direct answer first, then the evidence
        blocks.append(section(lead_text(answer.lead, lang)))
    shown_notes = {f.id for f in answer.factchecks}
    quotes = [s for s in answer.sources if s.kind == "article"]
    notes_as_sources = [
        s for s in answer.sources if s.kind == "factcheck" and s.doc not in shown_notes
    ]
    if quotes:
        blocks.append(section(f"*{message('answer.article', lang)}*"))
        blocks.extend(section(quote_text(s, lang)) for s in quotes)
    blocks.extend(section(note_source_text(s, lang)) for s in notes_as_sources)
    if answer.factchecks:
        blocks.append(divider())
        blocks.extend(section(factcheck_text(f, lang)) for f in answer.factchecks)
    url = next((s.url for s in quotes if s.url), None)
    footer = escape(message("answer.footer", lang))
    blocks.append(context(footer + (f" · {link(url, url)}" if url else "")))
    return SlackMessage(clip(escape(answer.text), FALLBACK_LIMIT), cap_blocks(blocks, lang, most))


def render_factchecks(
    notes: Sequence[FactCheckRef], topic: str | None, language: Language
) -> SlackMessage:
    """The `/factcheck [topic]` reply: every matching note, one section each."""
    title = message("notes.title", language, n=len(notes))
    blocks: list[Block] = [header(title)]
    if topic:
        blocks.append(context(message("notes.topic", language, topic=escape(topic))))
    if not notes:
        none = f"{message('notes.none', language)} {message('notes.browse_all', language)}"
        blocks.append(section(none))
        return SlackMessage(none, blocks)
    blocks.extend(section(factcheck_text(n, language)) for n in notes)
    summary = "; ".join(f"{n.label}: « {n.claim} »" for n in notes)
    fallback = f"{title}: {summary}"
    return SlackMessage(clip(escape(fallback), FALLBACK_LIMIT), cap_blocks(blocks, language))


def render_sources(info: IndexInfo, language: Language = "en") -> SlackMessage:
    """The `/sources` reply: the documents, the note count and which index answers."""
    docs = [
        f"• {link(d.url, d.title) if d.url else escape(d.title)} ({escape(d.language)})"
        for d in info.documents
    ]
    body = "\n".join(docs) or message("sources.no_documents", language)
    blocks = [
        header(message("sources.title", language)),
        section(f"*{message('sources.documents', language)}*\n{body}"),
        section(f"*{message('sources.notes', language)}:* {info.note_count}"),
        context(
            *(
                escape(f"{message(key, language)}: {value}")
                for key, value in (
                    ("sources.version", info.version),
                    ("sources.passages", info.chunk_count),
                    ("sources.built", info.built_at),
                    ("sources.model", info.model),
                )
            )
        ),
    ]
    fallback = message(
        "sources.summary", language, documents=len(info.documents), notes=info.note_count
    )
    return SlackMessage(fallback, cap_blocks(blocks, language))


# ---------------------------------------------------------------------------- moderator replies


def render_reindex_report(report: ReindexReport, language: Language = "en") -> SlackMessage:
    """The `/reindex` success reply: chunks, duration, versions and what changed."""
    # The template's own text needs no escaping; the values (versions) are escaped with it.
    head = ":white_check_mark: " + escape(message("reindex.done", language, report=report))
    if report.coalesced:
        head += "\n" + message("reindex.joined", language)
    changes = [escape(c) for c in report.changes.lines(language)] or [
        message("reindex.no_change", language)
    ]
    listing = "\n".join(f"• {c}" for c in changes)
    text = f"{head}\n*{message('reindex.changes', language)}*\n{listing}"
    return SlackMessage(clip_mrkdwn(text, FALLBACK_LIMIT), [section(text)])


def render_reindex_failure(
    problems: Sequence[str], serving_version: str, language: Language = "en"
) -> SlackMessage:
    """The `/reindex` failure reply: the validation messages; the old index keeps serving."""
    failed = message("reindex.failed", language, version=serving_version)
    head = f":x: {escape(failed)}"
    lines = [f"• {escape(p)}" for p in problems] or [f"• {message('reindex.no_detail', language)}"]
    # One section per group of problems so a long list is split rather than cut.
    blocks = [section(head), *sections(lines)]
    fallback = f"{failed} {'; '.join(problems)}"
    return SlackMessage(clip(escape(fallback), FALLBACK_LIMIT), cap_blocks(blocks, language))


def render_notice(text: str, emoji: str = ":information_source:") -> SlackMessage:
    """A one-line ephemeral notice; `text` is escaped (it may quote the user or an error)."""
    safe = escape(text)
    return SlackMessage(clip_mrkdwn(safe, FALLBACK_LIMIT), [section(f"{emoji} {safe}")])


# ---------------------------------------------------------------------------- feedback (👍/👎)

VOTE_ACTION = re.compile(r"^factbot_vote_(up|down)$")  # the buttons' action_id
REASON_CALLBACK = "factbot_vote_reason"  # the 👎 reason modal's callback_id
REASON_BLOCK = REASON_ACTION = "reason"
REASON_MAX = 300  # the store keeps 300 characters of a 👎's reason
MODAL_TITLE_LIMIT = 24
BUTTON_TEXT_LIMIT = 75
_FEEDBACK_BLOCK = "factbot_feedback:"  # + the answer's language: the replies use it


def feedback_block(answer_id: str, language: Language) -> Block:
    """An `actions` block with 👍 and 👎; each button's `value` is the answer id."""

    def button(vote: str, emoji: str, label: str) -> Block:
        return {
            "type": "button",
            "action_id": f"factbot_vote_{vote}",
            "text": {"type": "plain_text", "text": emoji, "emoji": True},
            "value": answer_id,
            "accessibility_label": clip(message(label, language), BUTTON_TEXT_LIMIT),
        }

    return {
        "type": "actions",
        "block_id": _FEEDBACK_BLOCK + language,
        "elements": [
            button("up", "👍", "feedback.helpful"),
            button("down", "👎", "feedback.not_helpful"),
        ],
    }


def feedback_language(block_id: str | None) -> Language:
    """The language of the answer whose 👍/👎 block this is (English when unknown)."""
    return "fr" if (block_id or "") == _FEEDBACK_BLOCK + "fr" else "en"


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def reason_modal(
    answer_id: str,
    language: Language,
    channel: str | None,
    thread_ts: str | None,
    initial: str = "",
    answer_ts: str | None = None,
) -> dict[str, Any]:
    """The view `views.open` shows after a 👎: an optional short reason (`initial`: pre-filled).
    Where the answer was (channel, thread; `answer_ts`: the thread it is in or roots) travels in
    `private_metadata`, for the private "thanks" afterwards and its 🔔."""
    metadata = {"answer": answer_id, "channel": channel, "thread_ts": thread_ts, "lang": language}
    if answer_ts:
        metadata["answer_ts"] = answer_ts
    return {
        "type": "modal",
        "callback_id": REASON_CALLBACK,
        "private_metadata": json.dumps(metadata),
        "title": _plain(message("feedback.reason_title", language), MODAL_TITLE_LIMIT),
        "submit": _plain(message("feedback.reason_submit", language), MODAL_TITLE_LIMIT),
        "close": _plain(message("feedback.reason_close", language), MODAL_TITLE_LIMIT),
        "blocks": [
            section(escape(message("feedback.reason_intro", language))),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": _plain(message("feedback.reason_label", language), 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_ACTION,
                    "multiline": True,
                    "max_length": REASON_MAX,
                    "placeholder": _plain(message("feedback.reason_placeholder", language), 150),
                    **({"initial_value": initial[:REASON_MAX]} if initial else {}),
                },
            },
        ],
    }


def submitted_reason(view: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """From a `view_submission`'s view: its metadata (answer, channel, thread_ts, lang) and the
    reason typed ("" when none)."""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    values = (view.get("state") or {}).get("values") or {}
    typed = (values.get(REASON_BLOCK) or {}).get(REASON_ACTION) or {}
    return (metadata if isinstance(metadata, dict) else {}), str(typed.get("value") or "").strip()


# ---------------------------------------------------------------------------- /unanswered

MAX_GROUPS = 15  # per list


def _group_lines(group: Group, with_votes: bool) -> list[str]:
    example = escape(clip(" ".join(group.example.split()), 200))
    line = f"*{group.count}×* « {example} » ({escape(', '.join(group.languages))})"
    if with_votes:
        line += f" · 👎 {group.downvotes} · 👍 {group.upvotes}"
    reasons = [f"      ↳ _{escape(clip(' '.join(r.split()), 120))}_" for r in group.reasons]
    return [line, *reasons]


def _group_sections(
    heading: str, groups: Sequence[Group], with_votes: bool, language: Language
) -> list[Block]:
    lines = [f"*{heading}*"]
    for group in groups[:MAX_GROUPS]:
        lines.extend(_group_lines(group, with_votes))
    if len(groups) > MAX_GROUPS:
        lines.append(message("and_more", language, n=len(groups) - MAX_GROUPS))
    return sections(lines)


def render_report(report: Report, language: Language = "en") -> SlackMessage:
    """The `/unanswered` reply (ephemeral, moderators): totals, then the refused questions and
    the answers voted down, grouped, most frequent first."""
    t = report.totals
    totals = message(
        "report.totals",
        language,
        questions=t.questions,
        answered=t.answered,
        refused=t.refused,
        rejected=t.rejected,
    )
    lines = [totals, message("report.votes", language, up=t.upvotes, down=t.downvotes)]
    if t.by_language:
        parts = [
            message("report.language", language, lang=lang, **counts)
            for lang, counts in t.by_language.items()
        ]
        lines.append(message("report.by_language", language, languages=", ".join(parts)))
    if report.loop is not None:  # closing the loop: subscriptions, corrections, hand-offs
        lines += loop_lines(report.loop, language)
    title = message("report.title", language, days=report.days)
    blocks: list[Block] = [
        header(title),
        section(escape("\n".join(lines))),
        context(
            escape(f"{report.since:%Y-%m-%d %H:%M} → {report.until:%Y-%m-%d %H:%M} UTC"),
            escape(message("report.hint", language)),
        ),
    ]
    for groups, key, with_votes in (
        (report.refused, "report.refused", False),
        (report.downvoted, "report.downvoted", True),
    ):
        blocks.append(divider())
        if not groups:
            blocks.append(section(f"*{escape(message(f'{key}_none', language))}*"))
            continue
        heading = message(key, language, n=sum(g.count for g in groups), groups=len(groups))
        blocks += _group_sections(escape(heading), groups, with_votes, language)
    fallback = f"{title}: {totals}"
    return SlackMessage(clip(escape(fallback), FALLBACK_LIMIT), cap_blocks(blocks, language))
