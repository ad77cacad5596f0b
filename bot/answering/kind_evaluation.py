"""`factbot eval` for the message kinds (issue 22): per kind on the first-contact set, dev and
held-out lines apart, and the false "not a fact question" on the question sets.

Every message is prepared and encoded exactly as the engine does it before answering
(`Engine.prepare`, `encode_queries` of `Prepared.embedded`), and classified from that vector.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from bot.answer import Answer
from bot.answering.engine import Engine
from bot.answering.message_kinds import KINDS, MessageKind, MessageKinds

FIRST_CONTACT = "tests/data/first_contact.jsonl"
SPLITS = ("dev", "held-out")


class KindScores(TypedDict):
    right: int
    total: int


class KindMiss(TypedDict):
    id: str
    split: str
    kind: str
    got: str
    parts: list[str]
    message: str


class KindReport(TypedDict):
    """Per split, per kind: messages classified right (`multi`: with as many parts as written)."""

    splits: dict[str, dict[str, KindScores]]
    misses: list[KindMiss]


class NotFactRow(TypedDict):
    id: str
    kind: str
    got: str
    question: str


class NotFactReport(TypedDict):
    """In-scope questions of a question set that did not classify as `fact` or `multi`."""

    in_scope: int
    not_fact: int
    rows: list[NotFactRow]


@dataclass(frozen=True)
class FirstContact:
    id: str
    message: str
    language: str
    kind: str
    parts: tuple[str, ...]
    split: str
    expect: Mapping[str, object] = field(default_factory=dict)


def message_kinds_for(engine: Engine) -> MessageKinds:
    """The step bound to `engine`'s encoder, reading exemplars as the engine reads questions
    (the engine's own, so its exemplar vectors are computed once)."""
    return engine.kinds


def _rows(path: str | Path) -> list[dict[str, object]]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def is_first_contact(path: str | Path) -> bool:
    """Whether `path` is a first-contact set (its rows hold a `message`, not a `question`)."""
    rows = _rows(path)
    return bool(rows) and "message" in rows[0]


def load_first_contact(path: str | Path = FIRST_CONTACT) -> list[FirstContact]:
    out = []
    for row in _rows(path):
        parts = row.get("parts") or []
        assert isinstance(parts, list)
        out.append(
            FirstContact(
                str(row["id"]),
                str(row["message"]),
                str(row["language"]),
                str(row["kind"]),
                tuple(str(p) for p in parts),
                str(row.get("split", "dev")),
                expect=dict(row.get("expect") or {}),  # type: ignore[call-overload]
            )
        )
    return out


def classify_messages(
    engine: Engine,
    kinds: MessageKinds,
    messages: Sequence[str],
    histories: Sequence[Sequence[str]] | None = None,
) -> list[MessageKind]:
    """Each message prepared in its thread and encoded as the engine does, then classified."""
    threads = histories if histories is not None else [()] * len(messages)
    prepared = [engine.prepare(m, h) for m, h in zip(messages, threads, strict=True)]
    vectors = engine.embedder.encode_queries([p.embedded for p in prepared])
    return [kinds.classify(m, v) for m, v in zip(messages, vectors, strict=True)]


def right_kind(row: FirstContact, got: MessageKind) -> bool:
    """The kind written for `row`; for `multi`, with as many parts as written."""
    if got.kind != row.kind:
        return False
    return row.kind != "multi" or len(got.parts) == len(row.parts)


def evaluate_kinds(engine: Engine, kinds: MessageKinds, rows: Sequence[FirstContact]) -> KindReport:
    got = classify_messages(engine, kinds, [r.message for r in rows])
    splits: dict[str, dict[str, KindScores]] = {}
    misses: list[KindMiss] = []
    for row, k in zip(rows, got, strict=True):
        scores = splits.setdefault(row.split, {})
        s = scores.setdefault(row.kind, KindScores(right=0, total=0))
        s["total"] += 1
        if right_kind(row, k):
            s["right"] += 1
        else:
            misses.append(
                KindMiss(
                    id=row.id,
                    split=row.split,
                    kind=row.kind,
                    got=k.kind,
                    parts=list(k.parts),
                    message=row.message,
                )
            )
    ordered: dict[str, dict[str, KindScores]] = {
        split: {kind: splits[split][kind] for kind in KINDS if kind in splits[split]}
        for split in (*SPLITS, *sorted(set(splits) - set(SPLITS)))
        if split in splits
    }
    return KindReport(splits=ordered, misses=misses)


def not_fact(engine: Engine, kinds: MessageKinds, path: str | Path) -> NotFactReport:
    """The in-scope questions of a question set (asked in their thread) not read as fact."""
    rows = [r for r in _rows(path) if r.get("kind") != "out_of_scope"]
    histories: list[Sequence[str]] = []
    for r in rows:
        history = r.get("history") or []
        assert isinstance(history, list)
        histories.append([str(h) for h in history])
    got = classify_messages(engine, kinds, [str(r["question"]) for r in rows], histories)
    wrong = [
        NotFactRow(id=str(r["id"]), kind=str(r["kind"]), got=k.kind, question=str(r["question"]))
        for r, k in zip(rows, got, strict=True)
        if not k.is_fact
    ]
    return NotFactReport(in_scope=len(rows), not_fact=len(wrong), rows=wrong)


def _per_kind_table(title: str, splits: Mapping[str, Mapping[str, KindScores]]) -> list[str]:
    """One row per kind and a total, one column per split (dev, held-out): "right/total"."""
    lines = [title, "", "| kind | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    for kind in KINDS:
        cells = []
        for split in splits:
            s = splits[split].get(kind)
            cells.append(f"{s['right']}/{s['total']}" if s else "-")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    totals = []
    for split in splits:
        right = sum(s["right"] for s in splits[split].values())
        total = sum(s["total"] for s in splits[split].values())
        totals.append(f"{right}/{total}")
    lines.append("| all | " + " | ".join(totals) + " |")
    return lines


def kinds_table(report: KindReport, name: str) -> str:
    return "\n".join(_per_kind_table(f"{name}: message kinds", report["splits"]))


def not_fact_line(report: NotFactReport) -> str:
    return (
        f"message kinds: {report['not_fact']}/{report['in_scope']} in-scope questions "
        "not read as fact questions"
    )


class ReplyMiss(TypedDict):
    id: str
    split: str
    kind: str
    act: str
    failed: list[str]
    message: str


class ReplyReport(TypedDict):
    """Per split, per kind: replies meeting every `expect` field of their row; the in-scope
    messages (`not_refused`) refused."""

    splits: dict[str, dict[str, KindScores]]
    false_refusals: dict[str, int]
    misses: list[ReplyMiss]


def _matches(pattern: object, *texts: str) -> bool:
    return any(re.search(str(pattern), t, re.IGNORECASE) for t in texts if t)


def failed_expectations(row: FirstContact, answer: Answer) -> list[str]:
    """The `expect` fields of `row` that `answer` does not meet (empty: a right reply)."""
    e = row.expect
    failed: list[str] = []
    lead = answer.lead.text if answer.lead is not None else ""
    if e.get("not_refused") and answer.refused:
        failed.append("not_refused")
    if "must_match" in e and not _matches(e["must_match"], lead, answer.text):
        failed.append("must_match")
    if e.get("no_sources") and (answer.sources or answer.factchecks):
        failed.append("no_sources")
    minimum = e.get("factchecks_min")
    if isinstance(minimum, int) and len(answer.factchecks) < minimum:
        failed.append("factchecks_min")
    if e.get("records_feedback") and answer.act != "feedback":
        failed.append("records_feedback")
    if e.get("reaction_in_thread") and answer.act != "thanks":
        failed.append("reaction_in_thread")
    patterns = e.get("parts_match")
    if isinstance(patterns, list):
        parts = answer.parts
        if len(parts) != len(patterns) or not all(
            p.lead is not None and _matches(pat, p.lead.text, p.text)
            for p, pat in zip(parts, patterns, strict=False)
        ):
            failed.append("parts_match")
    return failed


def evaluate_replies(engine: Engine, rows: Sequence[FirstContact]) -> ReplyReport:
    """Each first-contact message answered as the bot answers it (no thread), scored against
    its row's `expect`."""
    answers = engine.answer_many([engine.prepare(r.message) for r in rows])
    splits: dict[str, dict[str, KindScores]] = {}
    false_refusals: dict[str, int] = {}
    misses: list[ReplyMiss] = []
    for row, answer in zip(rows, answers, strict=True):
        s = splits.setdefault(row.split, {}).setdefault(row.kind, KindScores(right=0, total=0))
        s["total"] += 1
        false_refusals.setdefault(row.split, 0)
        if row.expect.get("not_refused") and answer.refused:
            false_refusals[row.split] += 1
        failed = failed_expectations(row, answer)
        if not failed:
            s["right"] += 1
        else:
            misses.append(
                ReplyMiss(
                    id=row.id,
                    split=row.split,
                    kind=row.kind,
                    act=answer.act,
                    failed=failed,
                    message=row.message,
                )
            )
    ordered: dict[str, dict[str, KindScores]] = {
        split: {kind: splits[split][kind] for kind in KINDS if kind in splits[split]}
        for split in (*SPLITS, *sorted(set(splits) - set(SPLITS)))
        if split in splits
    }
    return ReplyReport(splits=ordered, false_refusals=false_refusals, misses=misses)


def replies_table(report: ReplyReport, name: str) -> str:
    lines = _per_kind_table(f"{name}: replies meeting their expect fields", report["splits"])
    refusals = ", ".join(f"{k} {v}" for k, v in report["false_refusals"].items())
    lines.append(f"\nfalse refusals: {refusals}")
    return "\n".join(lines)
