"""`python -m benchmarks.chat_eval [--baseline | --naive] [--verbose]`: chat-style answer quality.

Answers the three evaluation sets (tests/data/chat.jsonl with thread histories, the dev set
questions.jsonl and the held-out set heldout.jsonl) through today's `Engine`, either as they come
(`--baseline`), with the last history question pasted in front (`--naive`, the obvious way to
read a thread), or (default) through the chat modules of issue 13 wrapped around the engine:

    clean_chat (markup, mentions, emoji, abbreviations) -> typo correction against the corpus
    -> contextualize (thread history) -> focus check (near misses) -> engine

A focus refusal counts as a refusal. Reported per set and group: article / factcheck / followup
"answered right" (the gold regex is found in the answer's text items, as `factbot eval` reads
them), out_of_scope "refused", and the false refusals of in-scope questions.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.answer import Answer, Language
from bot.answering.engine import Engine, Prepared, text_to_embed
from bot.answering.evaluation import _answer_items
from bot.answering.language import detect_language
from bot.settings import Settings
from index.text import fold

SETS = {
    "chat": Path("tests/data/chat.jsonl"),
    "dev": Path("tests/data/questions.jsonl"),
    "heldout": Path("tests/data/heldout.jsonl"),
}
GROUPS = ("article", "factcheck", "followup", "out_of_scope")
Mode = Literal["baseline", "naive", "modules"]


@dataclass(frozen=True)
class ChatQuestion:
    id: str
    question: str
    language: Language
    kind: str
    gold: re.Pattern[str] | None
    lead: re.Pattern[str] | None
    history: tuple[str, ...]

    @property
    def in_scope(self) -> bool:
        return self.kind != "out_of_scope"


@dataclass(frozen=True)
class Outcome:
    question: ChatQuestion
    asked: str  # the text the engine answered (after the modules), or the question
    language: Language
    refused: bool
    right: bool  # in scope: gold found; out of scope: refused
    why: str  # focus reason, "gate", or ""
    first: str  # the first answer item, for --verbose


def load_set(path: Path) -> list[ChatQuestion]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        gold = re.compile(row["gold"], re.IGNORECASE) if row.get("gold") else None
        lead = re.compile(row["lead"], re.IGNORECASE) if row.get("lead") else None
        out.append(
            ChatQuestion(
                row["id"],
                row["question"],
                row["language"],
                row["kind"],
                gold,
                lead,
                tuple(row.get("history") or ()),
            )
        )
    return out


class Pipeline:
    """Turns a question and its thread into what the engine is asked, or a focus refusal."""

    def __init__(self, engine: Engine, mode: Mode) -> None:
        self.engine = engine
        self.mode = mode
        if mode == "modules":
            from bot.answering.focus import CorpusFocus

            self.focus = CorpusFocus.from_index(engine.index)

    def intake(self, q: ChatQuestion) -> tuple[str, Language, str | None]:
        """(text to answer, answer language, focus refusal reason or None)."""
        if self.mode == "baseline":
            return q.question, detect_language(q.question), None
        if self.mode == "naive":
            text = " ".join([*q.history[-1:], q.question])
            return text, detect_language(q.question), None
        from bot.answering.chattext import clean_chat
        from bot.answering.conversation import Turn, contextualize
        from bot.answering.language import detect_language as detect_chat_language

        clean = self.focus.correct(clean_chat(q.question))
        language = detect_chat_language(clean)
        history = [Turn(self.focus.correct(clean_chat(h))) for h in q.history]
        ctx = contextualize(clean, history, self.focus)
        miss = self.focus.check(ctx.text)
        return ctx.text, language, (miss.reason if miss else None)

    def run(self, questions: Sequence[ChatQuestion]) -> list[Outcome]:
        intakes = [self.intake(q) for q in questions]
        todo = [
            Prepared(text, lang, text_to_embed(text, lang, self.engine.settings.french_gloss))
            for text, lang, miss in intakes
            if miss is None
        ]
        answers = iter(self.engine.answer_many(todo))
        out = []
        for q, (text, lang, miss) in zip(questions, intakes, strict=True):
            answer: Answer | None = None if miss is not None else next(answers)
            refused = answer is None or answer.refused
            items = [] if answer is None or answer.refused else _answer_items(answer)
            if q.in_scope:
                assert q.gold is not None
                right = any(q.gold.search(t) for t in items)
            else:
                right = refused
            why = miss or ("gate" if refused else "")
            out.append(Outcome(q, text, lang, refused, right, why, items[0] if items else ""))
        return out


def perturb(question: str, seed: int) -> str:
    """`question` as typed in a hurry: lower case, no accents, and one typo (two neighbouring
    letters swapped, or one dropped) in one word of five letters or more. Deterministic."""
    rng = random.Random(f"{seed}:{question}")
    text = fold(question)
    words = [m for m in re.finditer(r"[a-z]{5,}", text)]
    if not words:
        return text
    m = rng.choice(words)
    w = m.group(0)
    i = rng.randrange(1, len(w) - 1)
    typo = w[:i] + w[i + 1] + w[i] + w[i + 2 :] if rng.random() < 0.5 else w[:i] + w[i + 1 :]
    return text[: m.start()] + typo + text[m.end() :]


def summarise(name: str, outcomes: Sequence[Outcome]) -> dict[str, object]:
    groups: dict[str, list[int]] = {}
    for o in outcomes:
        right, total = groups.setdefault(o.question.kind, [0, 0])
        groups[o.question.kind] = [right + o.right, total + 1]
    in_scope = [o for o in outcomes if o.question.in_scope]
    language_ok = sum(o.language == o.question.language for o in outcomes)
    return {
        "set": name,
        "groups": {k: f"{v[0]}/{v[1]}" for k, v in sorted(groups.items(), key=_group_order)},
        "false_refusals": sum(o.refused for o in in_scope),
        "focus_refusals_in_scope": sum(o.refused and o.why not in ("", "gate") for o in in_scope),
        "language": f"{language_ok}/{len(outcomes)}",
    }


def _group_order(item: tuple[str, list[int]]) -> int:
    return GROUPS.index(item[0]) if item[0] in GROUPS else len(GROUPS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chat_eval", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--baseline", action="store_true", help="today's engine alone")
    mode.add_argument("--naive", action="store_true", help="paste the last history question")
    parser.add_argument("--verbose", action="store_true", help="print every miss")
    parser.add_argument("--sets", default="chat,dev,heldout", help="comma-separated set names")
    parser.add_argument(
        "--perturb",
        type=int,
        default=0,
        metavar="N",
        help="also answer N hurried copies of every question (lower case, no accents, a typo)",
    )
    args = parser.parse_args(argv)
    chosen: Mode = "baseline" if args.baseline else "naive" if args.naive else "modules"
    engine = Engine.open(Settings.load())
    pipeline = Pipeline(engine, chosen)
    print(f"mode: {chosen}")
    for name in args.sets.split(","):
        questions = load_set(SETS[name])
        outcomes = pipeline.run(questions)
        print(json.dumps(summarise(name, outcomes), ensure_ascii=False))
        if args.verbose:
            for o in outcomes:
                if not o.right or (o.why not in ("", "gate")):
                    mark = "ok " if o.right else "MISS"
                    print(
                        f"  {mark} {o.question.id} {o.question.kind:12} [{o.why}] "
                        f"{o.question.question!r} -> {o.asked!r} :: {o.first[:90]!r}"
                    )
        for seed in range(1, args.perturb + 1):
            hurried = [
                ChatQuestion(
                    q.id, perturb(q.question, seed), q.language, q.kind, q.gold, q.lead, q.history
                )
                for q in questions
            ]
            outcomes = pipeline.run(hurried)
            print(json.dumps(summarise(f"{name} hurried #{seed}", outcomes), ensure_ascii=False))
            if args.verbose:
                for o in outcomes:
                    if o.question.in_scope and o.refused:
                        print(f"  REFUSED {o.question.id} [{o.why}] {o.question.question!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
