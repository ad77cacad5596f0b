"""`factbot eval`: retrieval, refusal and lead quality on the evaluation sets.

Each question has a kind (article, factcheck, followup, out_of_scope), a gold regex and, in the
chat set, a `lead` regex and the `history` of its thread. Four views:
- ranking: hit@1, hit@3 and MRR of the gold unit in the hybrid, dense-only and BM25-only rankings
  (a unit is an article sentence with its translation, or a note);
- answer: what users see. hit@1 = the gold is in the first quote (or a note attached to it);
  hit@3 = the gold is anywhere in the answer (at most TOP_K quotes and 3 notes); a refusal of an
  in-scope question is a miss. Refusal precision and recall are over out-of-scope questions;
- groups: per kind, the questions answered right (in scope: answered with the gold anywhere in the
  answer; out of scope: refused);
- lead: the share of answered in-scope questions whose lead matches the `lead` regex (the gold
  regex when the set has none).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NotRequired, TypedDict

from bot.answer import Answer, Language
from bot.answering.engine import Engine, Prepared
from bot.answering.kind_evaluation import (
    FIRST_CONTACT,
    evaluate_kinds,
    evaluate_replies,
    is_first_contact,
    kinds_table,
    load_first_contact,
    message_kinds_for,
    not_fact,
    not_fact_line,
    replies_table,
)
from bot.answering.relevance import GATES, Gate
from index.text import content_words

RANK_DEPTH = 10
Ranker = Literal["hybrid", "dense", "bm25"]


class RankingScores(TypedDict):
    """One ranking's figures; the refusal pair is what that ranking's signal could refuse."""

    hit1: float
    hit3: float
    mrr: float
    refusal_precision: float
    refusal_recall: float


# What users see: the gold in the first quote (or its note), or anywhere in the answer.
AnswerScores = TypedDict("AnswerScores", {"hit@1": float, "hit@3": float})


class RefusalScores(TypedDict):
    precision: float
    recall: float
    true_refusals: int
    wrong_refusals: int
    missed_refusals: int


class QuestionRow(TypedDict):
    """One question's outcome and the gate's inputs (what `--verbose` prints for a miss)."""

    id: str
    language: Language
    kind: str
    refused: bool
    dense: float | None
    margin: float | None
    coverage: float | None
    answer_hit: bool | None  # None for an out-of-scope question
    lead: str | None  # the answer's lead sentence (None when refused)
    lead_hit: bool | None  # None unless an answered in-scope question
    question: str
    embedded: str
    words: list[str]


class GroupScores(TypedDict):
    """Questions of one kind answered right (out of scope: refused), out of `total`."""

    right: int
    total: int


class LeadScores(TypedDict):
    """Answered in-scope questions whose lead matches the lead (or gold) regex."""

    right: int
    answered: int
    accuracy: float


class LanguageResult(TypedDict):
    answer: AnswerScores
    refusal: RefusalScores
    ranking: dict[Ranker, RankingScores]


class EvalResult(TypedDict):
    """`evaluate`'s figures (JSON-able); `by_language` from `evaluate_with_languages`."""

    questions: int
    in_scope: int
    out_of_scope: int
    ranking: dict[Ranker, RankingScores]
    answer: AnswerScores
    refusal: RefusalScores
    groups: dict[str, GroupScores]
    lead: LeadScores
    history: bool  # follow-ups were asked with their thread's earlier questions
    rows: list[QuestionRow]
    by_language: NotRequired[dict[Language, LanguageResult]]


@dataclass(frozen=True)
class DevQuestion:
    id: str
    question: str
    language: Language
    kind: str
    gold: re.Pattern[str] | None
    lead: re.Pattern[str] | None = None  # what the lead must hold (default: the gold)
    history: tuple[str, ...] = ()  # earlier questions of the thread, oldest first

    @property
    def in_scope(self) -> bool:
        return self.kind != "out_of_scope"


def load_questions(path: str | Path) -> list[DevQuestion]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        gold = re.compile(row["gold"], re.IGNORECASE) if row.get("gold") else None
        lead = re.compile(row["lead"], re.IGNORECASE) if row.get("lead") else None
        history = tuple(row.get("history") or ())
        out.append(
            DevQuestion(
                row["id"], row["question"], row["language"], row["kind"], gold, lead, history
            )
        )
    return out


def reads_history(engine: Engine) -> bool:
    """Whether the engine prepares a question in its conversation (`prepare(question, history)`)."""
    return callable(getattr(engine, "prepare", None))


def prepared_in_thread(engine: Engine, question: DevQuestion) -> Prepared:
    """`question` prepared as the bot prepares it in its thread (chat cleaning, typos, the
    conversation context, near misses)."""
    return engine.prepare(question.question, question.history)


def _unit_text(engine: Engine, unit: str) -> str:
    rows = engine.retriever.units.get(unit, ())
    return "\n".join(engine.index.chunks[r].embed_text for r in rows)


def _rank(engine: Engine, units: Sequence[str], gold: re.Pattern[str]) -> int | None:
    for i, unit in enumerate(units[:RANK_DEPTH], start=1):
        if gold.search(_unit_text(engine, unit)):
            return i
    return None


def _answer_items(answer: Answer) -> list[str]:
    """The answer's evidence as texts: each quote with the notes attached to it, then the rest."""
    items = []
    for s in answer.sources:
        items.append(" ".join(filter(None, [s.quote, s.translation])))
    notes = [f"{f.claim} {f.summary}" for f in answer.factchecks]
    if items:
        items[0] = " ".join([items[0], *notes[:1]])
    return items + notes


def _hits(ranks: Sequence[int | None]) -> tuple[float, float, float]:
    """hit@1, hit@3 and MRR of the gold's ranks (None: not found)."""
    n = max(1, len(ranks))
    return (
        sum(1 for r in ranks if r == 1) / n,
        sum(1 for r in ranks if r is not None and r <= 3) / n,
        sum(1.0 / r for r in ranks if r) / n,
    )


def evaluate(
    engine: Engine, questions: Sequence[DevQuestion], gates: dict[Language, Gate] | None = None
) -> EvalResult:
    """All metrics as a JSON-able dict (plus per-question rows under 'rows')."""
    # Prepared as the bot prepares them in their thread (detected language, gloss, context), so
    # that the rankings below and the answers measure the same vectors.
    prepared = [prepared_in_thread(engine, q) for q in questions]
    embedded = [p.embedded for p in prepared]
    vectors = engine.embedder.encode_queries(embedded)
    answers = engine.answer_many(prepared, gates)
    ranks: dict[Ranker, list[int | None]] = {"hybrid": [], "dense": [], "bm25": []}
    answer_ranks: list[int | None] = []
    rows: list[QuestionRow] = []
    groups: dict[str, GroupScores] = {}
    leads = answered = 0
    tp = fp = fn = 0
    for q, p, vec, ans in zip(questions, prepared, vectors, answers, strict=True):
        text = p.embedded
        lead_hit = False
        group = groups.setdefault(q.kind, GroupScores(right=0, total=0))
        group["total"] += 1
        if q.in_scope:
            assert q.gold is not None
            hybrid = [h.unit for h in engine.retriever.search(p.question, vec).hits]
            ranks["hybrid"].append(_rank(engine, hybrid, q.gold))
            ranks["dense"].append(_rank(engine, engine.retriever.dense_only(vec), q.gold))
            ranks["bm25"].append(_rank(engine, engine.retriever.lexical_only(p.question), q.gold))
            items = [] if ans.refused else _answer_items(ans)
            hit = next((i for i, t in enumerate(items, start=1) if q.gold.search(t)), None)
            answer_ranks.append(1 if hit == 1 else (2 if hit is not None else None))
            group["right"] += hit is not None
            if not ans.refused:
                answered += 1
                wanted = q.lead or q.gold
                lead_hit = ans.lead is not None and wanted.search(ans.lead.text) is not None
                leads += lead_hit
        else:
            group["right"] += ans.refused
        if ans.refused and not q.in_scope:
            tp += 1
        elif ans.refused and q.in_scope:
            fp += 1
        elif not ans.refused and not q.in_scope:
            fn += 1
        rows.append(
            {
                "id": q.id,
                "language": q.language,
                "kind": q.kind,
                "refused": ans.refused,
                "dense": ans.debug.get("dense"),
                "margin": ans.debug.get("margin"),
                "coverage": ans.debug.get("coverage"),
                "answer_hit": (answer_ranks[-1] is not None) if q.in_scope else None,
                "lead": ans.lead.text if ans.lead is not None else None,
                "lead_hit": lead_hit if q.in_scope and not ans.refused else None,
                "question": q.question,
                "embedded": text,
                "words": list(content_words(q.question)),
            }
        )
    precision, recall = _precision_recall(tp, fp, fn)
    # What each signal alone could refuse, at its best single threshold per language (tuned on
    # this very set, so optimistic): raw cosine for dense-only, word coverage for BM25-only.
    refusals = {
        "hybrid": (precision, recall),
        "dense": _single_signal_refusal(rows, "dense"),
        "bm25": _single_signal_refusal(rows, "coverage"),
    }
    ranking: dict[Ranker, RankingScores] = {}
    for name, found in ranks.items():
        hit1, hit3, mrr = _hits(found)
        rp, rr = refusals[name]
        ranking[name] = RankingScores(
            hit1=hit1, hit3=hit3, mrr=mrr, refusal_precision=rp, refusal_recall=rr
        )
    answer_hit1, answer_hit3, _ = _hits(answer_ranks)
    return {
        "questions": len(questions),
        "in_scope": sum(q.in_scope for q in questions),
        "out_of_scope": sum(not q.in_scope for q in questions),
        "ranking": ranking,
        "answer": {"hit@1": answer_hit1, "hit@3": answer_hit3},
        "groups": dict(sorted(groups.items(), key=lambda kv: _group_order(kv[0]))),
        "lead": {"right": leads, "answered": answered, "accuracy": leads / max(1, answered)},
        "history": reads_history(engine),
        "refusal": {
            "precision": precision,
            "recall": recall,
            "true_refusals": tp,
            "wrong_refusals": fp,
            "missed_refusals": fn,
        },
        "rows": rows,
    }


GROUPS = ("article", "factcheck", "followup", "out_of_scope")


def _group_order(kind: str) -> tuple[int, str]:
    return (GROUPS.index(kind) if kind in GROUPS else len(GROUPS), kind)


def _precision_recall(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0)


def _single_signal_refusal(
    rows: Sequence[QuestionRow], key: Literal["dense", "coverage"]
) -> tuple[float, float]:
    """Refusal precision/recall of 'refuse when `key` < t', t tuned per language on `rows`."""
    tp = fp = fn = 0
    for lang in ("fr", "en"):
        data = [
            (_signal(r, key), r["kind"] != "out_of_scope") for r in rows if r["language"] == lang
        ]
        if not data:
            continue
        cuts = sorted({v for v, _ in data} | {1e9})
        best = max(cuts, key=lambda t: sum((v >= t) == ok for v, ok in data))
        tp += sum(1 for v, ok in data if v < best and not ok)
        fp += sum(1 for v, ok in data if v < best and ok)
        fn += sum(1 for v, ok in data if v >= best and not ok)
    return _precision_recall(tp, fp, fn)


def _signal(row: QuestionRow, key: Literal["dense", "margin", "coverage"]) -> float:
    value = row[key]
    assert value is not None, f"{row['id']}: the answer carries no {key}"  # every answer has them
    return value


def calibrate(rows: Sequence[QuestionRow]) -> dict[Language, Gate]:
    """Per language, the gate that makes the most right accept/refuse decisions on the dev set;
    ties go to the gate with the widest margin around the decisive points."""
    best: dict[Language, Gate] = {}
    grid_alone = [x / 100 for x in range(-20, 41, 2)]
    grid_min = [x / 100 for x in range(-30, 31, 2)]
    grid_cov = [x / 100 for x in range(0, 101, 5)]
    languages: tuple[Language, ...] = ("fr", "en")
    for lang in languages:
        data = [
            (_signal(r, "margin"), _signal(r, "coverage"), r["kind"] != "out_of_scope")
            for r in rows
            if r["language"] == lang
        ]
        scored = []
        for a, m, c in itertools.product(grid_alone, grid_min, grid_cov):
            if m > a:
                continue
            gate = Gate(a, m, c)
            correct = sum(gate.accepts(d, cov) == ok for d, cov, ok in data)
            margin = min((abs(d - a) for d, _, _ in data), default=0) + min(
                (abs(cov - c) for _, cov, _ in data), default=0
            )
            scored.append((correct, margin, gate))
        scored.sort(key=lambda t: (-t[0], -t[1]))
        best[lang] = scored[0][2]
    return best


def _table(result: EvalResult, name: str) -> str:
    lines = [
        f"{name}: {result['questions']} questions ({result['in_scope']} in scope, "
        f"{result['out_of_scope']} out of scope)",
        "",
        "| ranking | hit@1 | hit@3 | MRR | refusal precision | refusal recall |",
        "|---|---|---|---|---|---|",
    ]
    for ranker, s in result["ranking"].items():
        lines.append(
            f"| {ranker} | {s['hit1']:.3f} | {s['hit3']:.3f} | {s['mrr']:.3f} "
            f"| {s['refusal_precision']:.3f} | {s['refusal_recall']:.3f} |"
        )
    lines += [
        "",
        "| answers (hybrid + gate) | hit@1 | hit@3 | refusal precision | refusal recall |",
        "|---|---|---|---|---|",
    ]
    parts: list[tuple[str, AnswerScores, RefusalScores]] = [
        ("all", result["answer"], result["refusal"])
    ]
    parts += [(k, v["answer"], v["refusal"]) for k, v in result.get("by_language", {}).items()]
    for label, a, r in parts:
        lines.append(
            f"| {label} | {a['hit@1']:.3f} | {a['hit@3']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} |"
        )
    lines += ["", "| group | answered right |", "|---|---|"]
    for kind, g in result["groups"].items():
        label = "out of scope (refused)" if kind == "out_of_scope" else kind
        lines.append(f"| {label} | {g['right']}/{g['total']} |")
    lead = result["lead"]
    lines.append(
        f"| lead holds the answer (answered in scope) | {lead['right']}/{lead['answered']} "
        f"({lead['accuracy']:.3f}) |"
    )
    if "followup" in result["groups"] and not result["history"]:
        lines.append("\nfollow-ups asked without their history (this engine reads questions alone)")
    return "\n".join(lines)


def evaluate_with_languages(
    engine: Engine, questions: Sequence[DevQuestion], gates: dict[Language, Gate] | None = None
) -> EvalResult:
    """`evaluate` on the whole set, plus the same figures per language under 'by_language'."""
    result = evaluate(engine, questions, gates)
    by_language: dict[Language, LanguageResult] = {}
    languages: tuple[Language, ...] = ("fr", "en")
    for lang in languages:
        subset = [q for q in questions if q.language == lang]
        if subset:
            part = evaluate(engine, subset, gates)
            by_language[lang] = LanguageResult(
                answer=part["answer"], refusal=part["refusal"], ranking=part["ranking"]
            )
    result["by_language"] = by_language
    return result


EVAL_SETS = (
    "tests/data/questions.jsonl",
    "tests/data/heldout.jsonl",
    "tests/data/chat.jsonl",
    FIRST_CONTACT,
)


def run_eval(
    engine: Engine, paths: Sequence[str], as_json: bool, do_calibrate: bool, verbose: bool
) -> int:
    """CLI body of `factbot eval`: every set in turn (calibration on the first one only)."""
    results: list[dict[str, object]] = []
    kinds = message_kinds_for(engine)
    for i, path in enumerate(paths):
        if is_first_contact(path):  # message kinds only (issue 22): no gold answers yet
            rows = load_first_contact(path)
            report = evaluate_kinds(engine, kinds, rows)
            replies = evaluate_replies(engine, rows)
            results.append(
                {
                    "set": path,
                    "kinds": report["splits"],
                    "misses": report["misses"],
                    "replies": replies["splits"],
                    "false_refusals": replies["false_refusals"],
                    "reply_misses": replies["misses"],
                }
            )
            if not as_json:
                print(kinds_table(report, path))
                print()
                print(replies_table(replies, path))
            if verbose:
                for miss in report["misses"]:
                    print(json.dumps(miss, ensure_ascii=False))
                for reply_miss in replies["misses"]:
                    print(json.dumps(reply_miss, ensure_ascii=False))
            if not as_json and i < len(paths) - 1:
                print()
            continue
        result = _run_one(engine, path, do_calibrate and i == 0, as_json, verbose)
        nonfact = not_fact(engine, kinds, path)
        false_refusals = sum(
            1 for row in result["rows"] if row["refused"] and row["kind"] != "out_of_scope"
        )
        in_scope = sum(1 for row in result["rows"] if row["kind"] != "out_of_scope")
        if not as_json:
            print(not_fact_line(nonfact))
            print(f"false refusals: {false_refusals}/{in_scope} in-scope questions refused")
        if verbose:
            for row in nonfact["rows"]:
                print(json.dumps(row, ensure_ascii=False))
        results.append(
            {
                "set": path,
                **{k: v for k, v in result.items() if k != "rows"},
                "not_fact": {k: v for k, v in nonfact.items() if k != "rows"},
                "false_refusals": false_refusals,
            }
        )
        if not as_json and i < len(paths) - 1:
            print()
    if as_json:
        print(json.dumps(results[0] if len(results) == 1 else {"sets": results}, indent=1))
    return 0


def _run_one(
    engine: Engine, path: str, do_calibrate: bool, as_json: bool, verbose: bool
) -> EvalResult:
    questions = load_questions(path)
    result = evaluate_with_languages(engine, questions)
    if do_calibrate:
        gates = calibrate(result["rows"])
        tuned = evaluate_with_languages(engine, questions, gates)
        print("calibrated gates (paste into bot/answering/relevance.py):")
        for lang, g in gates.items():
            print(
                f'    "{lang}": Gate(margin_alone={g.margin_alone}, margin_min={g.margin_min}, coverage_min={g.coverage_min}),'
            )
        print(_table(tuned, path))
        print(f"\ncurrent gates: {GATES}")
    if not as_json:
        print(_table(result, path))
    if verbose:
        for row in result["rows"]:
            wrong = row["refused"] == (row["kind"] != "out_of_scope") or row["answer_hit"] is False
            if wrong or row["lead_hit"] is False:
                print(json.dumps(row, ensure_ascii=False))
    return result
