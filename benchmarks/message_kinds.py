"""What telling a message's kind costs (issue 22), beyond the encode the engine does anyway.

`classify(text, vector)` on the vector the engine computed for retrieval: the rules, then one
product with the exemplar matrix. Measured per message over the first-contact set and the question
sets (each message classified `repeats` times, the median kept per message; the mean, median and
p95 over the messages reported in ms, the mean held to issue 24's target). The one-time cost of
embedding the exemplars is measured apart, and a raw one-question encode beside it for scale.

`python -m benchmarks.message_kinds` (also the `kinds` section of `python -m benchmarks`) prints
the JSON; `--write` also writes results/message_kinds.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, ROOT, log, pct
from bot.answering.engine import Engine, text_to_embed
from bot.answering.message_kinds import MessageKinds

# Issue 24: the first-contact step costs at most this per message, beyond the encode (the
# mean over the messages of each one's median: what a stream of such messages costs).
TARGET_MS_PER_MESSAGE = 0.3
SETS = ("first_contact.jsonl", "questions.jsonl", "heldout.jsonl", "chat.jsonl")


def _messages() -> list[str]:
    out: list[str] = []
    for name in SETS:
        for line in (ROOT / "tests" / "data" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.append(str(row.get("message") or row["question"]))
    return out


def measure(engine: Engine, repeats: int = 20) -> dict[str, Any]:
    # A fresh step on the uncached encoder, not the engine's (whose exemplars `Engine.open`
    # embedded already, and whose query cache now holds them): what embedding the exemplars
    # once costs at start.
    kinds = MessageKinds(
        engine.embedder.encode, partial(text_to_embed, gloss=engine.settings.french_gloss)
    )
    t = time.perf_counter()
    exemplars = kinds.exemplars  # embeds the exemplars once
    build_ms = (time.perf_counter() - t) * 1000
    messages = _messages()
    vectors = engine.embedder.encode_queries([engine.prepare(m).embedded for m in messages])
    per_message: list[float] = []
    for message, vector in zip(messages, vectors, strict=True):
        runs = []
        for _ in range(repeats):
            t = time.perf_counter()
            kinds.classify(message, vector)
            runs.append(time.perf_counter() - t)
        per_message.append(statistics.median(runs) * 1000)
    encode = []
    for i in range(min(50, len(messages))):
        t = time.perf_counter()
        engine.embedder.encode([f"{messages[i]} {i}"])  # uncached
        encode.append((time.perf_counter() - t) * 1000)
    return {
        "messages": len(messages),
        "exemplars": len(exemplars.exemplars),
        "classify_mean_ms": round(statistics.fmean(per_message), 4),
        "classify_median_ms": round(statistics.median(per_message), 4),
        "classify_p95_ms": round(pct(per_message, 95), 4),
        "exemplar_matrix_once_ms": round(build_ms, 1),
        "raw_encode_one_median_ms": round(statistics.median(encode), 2),
        "target_ms": TARGET_MS_PER_MESSAGE,
        "met": bool(statistics.fmean(per_message) <= TARGET_MS_PER_MESSAGE),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.message_kinds", description=__doc__)
    parser.add_argument("--write", action="store_true", help="write results/message_kinds.json")
    args = parser.parse_args(argv)
    from bot.settings import Settings

    log("-- message kinds")
    result = measure(Engine.open(Settings.load(None)))
    text = json.dumps(result, indent=1)
    print(text)
    if args.write:
        Path(RESULTS).mkdir(parents=True, exist_ok=True)
        (Path(RESULTS) / "message_kinds.json").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
