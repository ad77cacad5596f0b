"""The moderators' report: what the community asked, what the bot could not answer, and which
answers were voted down, over the last N days — near-duplicates grouped, most frequent first.

`build_report(database, days, encode, community=...)` reads the store; `Report.to_json()` and
`Report.render_text()` are what `factbot report [--json]` prints (and `/unanswered` will show).
`encode` is only called when there are questions to group. Every caller says whose rows it
reads: a `Community` (a moderator in chat: that server's or workspace's questions only, never a
DM) or None (the operator on the host: everything, which the report says).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.answer import Language
from bot.answering.engine import prepare
from bot.answering.index_lifecycle import embedder_for
from bot.community import Community
from bot.learning.grouping import DEFAULT_THRESHOLD, Encode, group_similar
from bot.messages import text
from bot.storage.database import Database
from bot.storage.loop import LoopStats, loop_stats
from bot.storage.schema import answer_votes, question_log
from bot.storage.store import in_community
from bot.storage.values import utcnow

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from bot.settings import Settings

# Rows read per list: the newest this many refused questions / downvoted answers are grouped.
MAX_ROWS = 5000
MAX_REASONS = 3


@dataclass(frozen=True)
class Group:
    """Near-duplicate questions: how many, one example, their languages."""

    count: int
    example: str
    languages: tuple[str, ...]
    downvotes: int = 0  # downvoted answers only
    upvotes: int = 0
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "count": self.count,
            "example": self.example,
            "languages": list(self.languages),
        }
        if self.downvotes or self.upvotes or self.reasons:
            out.update(downvotes=self.downvotes, upvotes=self.upvotes, reasons=list(self.reasons))
        return out


@dataclass(frozen=True)
class Totals:
    questions: int = 0
    answered: int = 0
    refused: int = 0
    rejected: int = 0
    upvotes: int = 0
    downvotes: int = 0
    # language → {"questions", "answered", "refused", "rejected"}
    by_language: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    days: int
    since: datetime
    until: datetime
    totals: Totals
    refused: tuple[Group, ...]
    downvoted: tuple[Group, ...]
    community: Community | None = None  # None: every community and the DMs (the host's view)
    # Closing the loop: subscriptions, questions answered later, corrections, hand-offs.
    loop: LoopStats | None = None

    @property
    def scope(self) -> str:
        """Whose questions the report covers, in words."""
        if self.community is None:
            return "every server, workspace and direct message (the host's view)"
        return self.community.describe()

    def to_json(self) -> dict[str, Any]:
        t = self.totals
        return {
            "scope": "all" if self.community is None else self.community.to_json(),
            "days": self.days,
            "since": self.since.isoformat(timespec="seconds"),
            "until": self.until.isoformat(timespec="seconds"),
            "totals": {
                "questions": t.questions,
                "answered": t.answered,
                "refused": t.refused,
                "rejected": t.rejected,
                "upvotes": t.upvotes,
                "downvotes": t.downvotes,
                "by_language": t.by_language,
            },
            "refused": [g.to_json() for g in self.refused],
            "downvoted": [g.to_json() for g in self.downvoted],
            "loop": self.loop.to_json() if self.loop is not None else None,
        }

    def render_text(self, limit: int = 20) -> str:
        """A plain-text report for a terminal (or a chat message), `limit` groups per list."""
        t = self.totals
        lines = [
            f"factbot report: last {self.days} day(s), "
            f"{self.since:%Y-%m-%d %H:%M} to {self.until:%Y-%m-%d %H:%M} UTC",
            f"Scope: {self.scope}",
            f"Questions: {t.questions} (answered {t.answered}, refused {t.refused}, "
            f"rejected {t.rejected})",
            f"Feedback: 👍 {t.upvotes}  👎 {t.downvotes}",
        ]
        if t.by_language:
            parts = [
                f"{lang} {c['questions']} (answered {c['answered']}, refused {c['refused']})"
                for lang, c in t.by_language.items()
            ]
            lines.append("By language: " + ", ".join(parts))
        lines += ["", _heading("Refused questions", self.refused)]
        lines += _group_lines(self.refused, limit)
        lines += ["", _heading("Downvoted answers", self.downvoted)]
        lines += _group_lines(self.downvoted, limit)
        if self.loop is not None:
            lines += ["", *loop_lines(self.loop, "en")]
        return "\n".join(lines)


def loop_lines(stats: LoopStats, language: Language) -> list[str]:
    """What closing the loop did, for a terminal or a chat message (`/unanswered`)."""
    lines = [
        text(
            "report.loop",
            language,
            subscriptions=stats.subscriptions,
            later=stats.answered_later,
            corrections=stats.corrections_sent,
            open=stats.handoffs_open,
        )
    ]
    if stats.median_resolution_hours is not None:
        hours = f"{stats.median_resolution_hours:.1f}"
        lines.append(text("report.loop_median", language, hours=hours))
    return lines


def _heading(title: str, groups: Sequence[Group]) -> str:
    if not groups:
        return f"{title}: none"
    n = sum(g.count for g in groups)
    return f"{title}: {n} in {len(groups)} group(s), most frequent first"


def _group_lines(groups: Sequence[Group], limit: int) -> list[str]:
    lines = []
    for g in groups[:limit]:
        line = f"  {g.count:>4}× « {g.example} »  [{', '.join(g.languages)}]"
        if g.downvotes:
            line += f"  👎 {g.downvotes}  👍 {g.upvotes}"
        lines.append(line)
        lines.extend(f"        — {reason}" for reason in g.reasons)
    if len(groups) > limit:
        lines.append(f"  … and {len(groups) - limit} more group(s) (--json lists them all)")
    return lines


def build_report(
    database: Database,
    days: int,
    encode: Encode,
    *,
    community: Community | None,
    now: datetime | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> Report:
    """The report for the `days` days before `now` over `community`'s questions (None: every
    question, DMs included: the host's view); `encode(texts)` returns unit vectors and is called
    only when there are questions to group (so a caller may load its model lazily)."""
    until = now or utcnow()
    since = until - timedelta(days=days)
    where = _window(since, until, community)
    database.ensure_ready()
    try:
        with database.reading() as conn:
            totals = _totals(conn, where)
            refused_rows = conn.execute(
                select(question_log.c.question, question_log.c.language)
                .where(where, question_log.c.outcome == "refused")
                .order_by(question_log.c.asked_at.desc())
                .limit(MAX_ROWS)
            ).all()
            down_rows = _downvoted(conn, where)
            loop = loop_stats(conn, since, community)
    except SQLAlchemyError as exc:
        raise database.unavailable(exc) from exc
    refused = _groups(
        [(r.question, r.language or "?", 0, 0, ()) for r in refused_rows], encode, threshold
    )
    downvoted = _groups(down_rows, encode, threshold)
    return Report(days, since, until, totals, tuple(refused), tuple(downvoted), community, loop)


def _window(since: datetime, until: datetime, community: Community | None) -> Any:
    window = and_(question_log.c.asked_at >= since, question_log.c.asked_at <= until)
    return window if community is None else and_(window, in_community(community))


def _totals(conn: Any, where: Any) -> Totals:
    q, v = question_log, answer_votes
    counts: dict[str, int] = Counter()
    by_language: dict[str, dict[str, int]] = {}
    rows = conn.execute(
        select(q.c.language, q.c.outcome, func.count())
        .where(where)
        .group_by(q.c.language, q.c.outcome)
    ).all()
    for language, outcome, n in rows:
        counts[outcome] += n
        entry = by_language.setdefault(
            language or "?", {"questions": 0, "answered": 0, "refused": 0, "rejected": 0}
        )
        entry["questions"] += n
        entry[outcome] += n
    votes = dict(
        conn.execute(
            select(v.c.vote, func.count())
            .select_from(v.join(q, q.c.answer_id == v.c.answer_id))
            .where(where)
            .group_by(v.c.vote)
        ).all()
    )
    ordered = dict(sorted(by_language.items(), key=lambda kv: (-kv[1]["questions"], kv[0])))
    return Totals(
        questions=sum(counts.values()),
        answered=counts["answered"],
        refused=counts["refused"],
        rejected=counts["rejected"],
        upvotes=int(votes.get(1, 0)),
        downvotes=int(votes.get(-1, 0)),
        by_language=ordered,
    )


Row = tuple[str, str, int, int, tuple[str, ...]]  # question, language, downs, ups, reasons


def _downvoted(conn: Any, where: Any) -> list[Row]:
    """Answers with at least one 👎, newest first: question, language, 👎, 👍, reasons."""
    q, v = question_log, answer_votes
    rows = conn.execute(
        select(q.c.answer_id, q.c.question, q.c.language, v.c.vote, v.c.reason)
        .select_from(q.join(v, v.c.answer_id == q.c.answer_id))
        .where(where)
        .order_by(q.c.asked_at.desc())
    ).all()
    answers: dict[str, list[Any]] = {}
    for answer_id, question, language, vote, reason in rows:
        entry = answers.setdefault(answer_id, [question, language or "?", 0, 0, []])
        entry[2 if vote < 0 else 3] += 1
        if vote < 0 and reason:
            entry[4].append(reason)
    return [(e[0], e[1], e[2], e[3], tuple(e[4])) for e in answers.values() if e[2] > 0][:MAX_ROWS]


def _groups(rows: Sequence[Row], encode: Encode, threshold: float) -> list[Group]:
    if not rows:
        return []
    indices = group_similar([r[0] for r in rows], encode, threshold)
    out = []
    for members in indices:
        languages = Counter(rows[i][1] for i in members)
        reasons: list[str] = []
        for i in members:
            for reason in rows[i][4]:
                if reason not in reasons and len(reasons) < MAX_REASONS:
                    reasons.append(reason)
        out.append(
            Group(
                count=len(members),
                example=rows[members[0]][0],
                languages=tuple(lang for lang, _ in languages.most_common()),
                downvotes=sum(rows[i][2] for i in members),
                upvotes=sum(rows[i][3] for i in members),
                reasons=tuple(reasons),
            )
        )
    return out


def question_encoder(settings: Settings) -> Encode:
    """Encodes questions as the bot does (a French question through its English gloss); the
    model loads on the first call, so a report with nothing to group never loads it."""

    def encode(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        embedder = embedder_for(settings)
        return embedder.encode([prepare(text, settings).embedded for text in texts])

    return encode
