"""`factbot eval`: retrieval and refusal quality on the public dev set.

Each dev question has a kind (article, factcheck, out_of_scope) and a gold regex. Two views:
- ranking: hit@1, hit@3 and MRR of the gold unit in the hybrid, dense-only and BM25-only rankings
  (a unit is an article sentence with its translation, or a note);
- answer: what users see. hit@1 = the gold is in the first quote (or a note attached to it);
  hit@3 = the gold is anywhere in the answer (at most TOP_K quotes and 3 notes); a refusal of an
  in-scope question is a miss. Refusal precision and recall are over out-of-scope questions.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.answer import Answer, Language
from bot.engine import Engine, prepare
from bot.relevance import GATES, Gate

RANK_DEPTH = 10


@dataclass(frozen=True)
class DevQuestion:
    id: str
    question: str
    language: Language
    kind: str
    gold: re.Pattern[str] | None

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
        out.append(DevQuestion(row["id"], row["question"], row["language"], row["kind"], gold))
    return out


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


@dataclass
class Scores:
    hit1: float
    hit3: float
    mrr: float

    def row(self) -> list[str]:
        return [f"{self.hit1:.3f}", f"{self.hit3:.3f}", f"{self.mrr:.3f}"]


def _scores(ranks: Sequence[int | None]) -> Scores:
    n = max(1, len(ranks))
    return Scores(
        sum(1 for r in ranks if r == 1) / n,
        sum(1 for r in ranks if r is not None and r <= 3) / n,
        sum(1.0 / r for r in ranks if r) / n,
    )


def evaluate(
    engine: Engine, questions: Sequence[DevQuestion], gates: dict[Language, Gate] | None = None
) -> dict[str, Any]:
    """All metrics as a JSON-able dict (plus per-question rows under 'rows')."""
    from index.text import content_words

    # Prepared as the bot prepares them (detected language, gloss), so that the rankings below
    # and the answers measure the same vectors.
    prepared = [prepare(q.question, engine.settings) for q in questions]
    embedded = [p.embedded for p in prepared]
    vectors = engine.embedder.encode_queries(embedded)
    answers = engine.answer_many(prepared, gates)
    ranks: dict[str, list[int | None]] = {"hybrid": [], "dense": [], "bm25": []}
    answer_ranks: list[int | None] = []
    rows = []
    tp = fp = fn = 0
    for q, text, vec, ans in zip(questions, embedded, vectors, answers, strict=True):
        if q.in_scope:
            assert q.gold is not None
            hybrid = [h.unit for h in engine.retriever.search(q.question, vec).hits]
            ranks["hybrid"].append(_rank(engine, hybrid, q.gold))
            ranks["dense"].append(_rank(engine, engine.retriever.dense_only(vec), q.gold))
            ranks["bm25"].append(_rank(engine, engine.retriever.lexical_only(q.question), q.gold))
            items = [] if ans.refused else _answer_items(ans)
            hit = next((i for i, t in enumerate(items, start=1) if q.gold.search(t)), None)
            answer_ranks.append(1 if hit == 1 else (2 if hit is not None else None))
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
                "question": q.question,
                "embedded": text,
                "words": list(content_words(q.question)),
            }
        )
    precision, recall = _precision_recall(tp, fp, fn)
    answer = _scores(answer_ranks)
    ranking = {name: vars(_scores(r)) for name, r in ranks.items()}
    # What each signal alone could refuse, at its best single threshold per language (tuned on
    # this very set, so optimistic): raw cosine for dense-only, word coverage for BM25-only.
    for name, key in (("dense", "dense"), ("bm25", "coverage")):
        p, r = _single_signal_refusal(rows, key)
        ranking[name] |= {"refusal_precision": p, "refusal_recall": r}
    ranking["hybrid"] |= {"refusal_precision": precision, "refusal_recall": recall}
    return {
        "questions": len(questions),
        "in_scope": sum(q.in_scope for q in questions),
        "out_of_scope": sum(not q.in_scope for q in questions),
        "ranking": ranking,
        "answer": {"hit@1": answer.hit1, "hit@3": answer.hit3},
        "refusal": {
            "precision": precision,
            "recall": recall,
            "true_refusals": tp,
            "wrong_refusals": fp,
            "missed_refusals": fn,
        },
        "rows": rows,
    }


def _precision_recall(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0)


def _single_signal_refusal(rows: Sequence[dict[str, Any]], key: str) -> tuple[float, float]:
    """Refusal precision/recall of 'refuse when `key` < t', t tuned per language on `rows`."""
    tp = fp = fn = 0
    for lang in ("fr", "en"):
        data = [(float(r[key]), r["kind"] != "out_of_scope") for r in rows if r["language"] == lang]
        if not data:
            continue
        cuts = sorted({v for v, _ in data} | {1e9})
        best = max(cuts, key=lambda t: sum((v >= t) == ok for v, ok in data))
        tp += sum(1 for v, ok in data if v < best and not ok)
        fp += sum(1 for v, ok in data if v < best and ok)
        fn += sum(1 for v, ok in data if v >= best and not ok)
    return _precision_recall(tp, fp, fn)


def calibrate(rows: Sequence[dict[str, Any]]) -> dict[Language, Gate]:
    """Per language, the gate that makes the most right accept/refuse decisions on the dev set;
    ties go to the gate with the widest margin around the decisive points."""
    best: dict[Language, Gate] = {}
    grid_alone = [x / 100 for x in range(-20, 41, 2)]
    grid_min = [x / 100 for x in range(-30, 31, 2)]
    grid_cov = [x / 100 for x in range(0, 101, 5)]
    for lang in ("fr", "en"):
        data = [
            (r["margin"], r["coverage"], r["kind"] != "out_of_scope")
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
        best[lang] = scored[0][2]  # type: ignore[index]
    return best


def _table(result: dict[str, Any], name: str) -> str:
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
    for label, part in [("all", result), *result.get("by_language", {}).items()]:
        a, r = part["answer"], part["refusal"]
        lines.append(
            f"| {label} | {a['hit@1']:.3f} | {a['hit@3']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} |"
        )
    return "\n".join(lines)


def evaluate_with_languages(
    engine: Engine, questions: Sequence[DevQuestion], gates: dict[Language, Gate] | None = None
) -> dict[str, Any]:
    """`evaluate` on the whole set, plus the same figures per language under 'by_language'."""
    result = evaluate(engine, questions, gates)
    result["by_language"] = {}
    for lang in ("fr", "en"):
        subset = [q for q in questions if q.language == lang]
        if subset:
            part = evaluate(engine, subset, gates)
            result["by_language"][lang] = {k: part[k] for k in ("answer", "refusal", "ranking")}
    return result


def run_eval(engine: Engine, path: str, as_json: bool, do_calibrate: bool, verbose: bool) -> int:
    """CLI body of `factbot eval`."""
    questions = load_questions(path)
    result = evaluate_with_languages(engine, questions)
    if do_calibrate:
        gates = calibrate(result["rows"])
        tuned = evaluate_with_languages(engine, questions, gates)
        print("calibrated gates (paste into bot/relevance.py):")
        for lang, g in gates.items():
            print(
                f'    "{lang}": Gate(margin_alone={g.margin_alone}, margin_min={g.margin_min}, coverage_min={g.coverage_min}),'
            )
        print(_table(tuned, path))
        print(f"\ncurrent gates: {GATES}")
    if as_json:
        slim = {k: v for k, v in result.items() if k != "rows"}
        print(json.dumps(slim, indent=1))
    else:
        print(_table(result, path))
    if verbose:
        for row in result["rows"]:
            wrong = row["refused"] == (row["kind"] != "out_of_scope") or row["answer_hit"] is False
            if wrong:
                print(json.dumps(row, ensure_ascii=False))
    return 0
