"""Load benchmark of the Discord adapter: many /ask interactions through the real client.

Starts the fake Discord (tests/fakes/discord/) and the real bot over the real service,
injects `n` INTERACTION_CREATE events spread evenly over `seconds` (distinct users, so the
cooldown never applies; distinct question texts, so the core's embedding cache does not turn
the run into cache hits), after a short warm-up of the model, and measures, for each, the time from the event leaving the fake gateway
to the answer's followup reaching the fake REST API: everything the bot does in between (defer,
retrieval, rendering, HTTP).

    python benchmarks/discord_load.py [--n 200] [--seconds 10]   # prints JSON

`run()` is importable by a benchmarks runner and returns {sent, answered, p50_ms, p95_ms, max_ms}.
It uses the project's settings (.env, INDEX_DIR, building the index there on first use); only
the Discord settings are replaced by the fake's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `bot` and `tests` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.common import pct  # noqa: E402
from bot.chat.discord import client as discord_bot  # noqa: E402
from bot.serving.service import FactBotService  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.fakes.discord_server import FakeDiscord  # noqa: E402

QUESTIONS = (
    "When will Chang'e 6 collect lunar samples?",
    "Quand la mission Chang'e 6 ira-t-elle recueillir des échantillons lunaires ?",
    "How many kilograms of French experiments will fly on Chang'e 6?",
    "Will France go to the Moon for the first time?",
    "What is SVOM supposed to detect?",
    "Qui est le président du CNES ?",
    "Did pollution in Chinese cities fall by 32%?",
    "What is the best carbonara recipe?",  # off-topic: refusals are part of the load too
)


def question(i: int) -> str:
    """The i-th question of the run: the samples in turn, each text different."""
    return f"{QUESTIONS[i % len(QUESTIONS)]} (#{i})"


async def _warm_up(service: FactBotService) -> None:
    # The first encodes (and the first batch shapes) are much slower than the steady state;
    # a cold start is not what this benchmark measures.
    for q in QUESTIONS:
        await service.ask(q)
    await asyncio.gather(*(service.ask(f"{q} (warm-up {i})") for i, q in enumerate(QUESTIONS * 4)))


async def _run(n: int, seconds: float, base: Settings) -> dict[str, Any]:
    service = await asyncio.to_thread(
        FactBotService.from_settings,
        dataclasses.replace(base, index_watch_seconds=0, user_cooldown_seconds=0),
    )
    try:
        await _warm_up(service)
        async with FakeDiscord() as fake:
            settings = dataclasses.replace(
                base,
                discord_token=fake.token,
                discord_api_base=fake.api_base,
                discord_guild_ids=(fake.guild_id,),
                discord_shard_count=0,
                discord_shard_ids=(),
                user_cooldown_seconds=0,
                index_watch_seconds=0,
            )
            bot = asyncio.create_task(discord_bot.serve(settings, service))
            try:
                await fake.wait_ready(timeout=60)
                sent_at: dict[str, float] = {}
                interactions = []
                start = time.perf_counter()
                for i in range(n):
                    # Even spacing against the clock, so a slow send does not stretch the run.
                    delay = start + i * seconds / max(1, n) - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    sent = time.perf_counter()
                    interaction = await fake.interact(
                        "ask", {"question": question(i)}, user_id=1500000000000000000 + i
                    )
                    sent_at[interaction.token] = sent
                    interactions.append(interaction)
                results = await asyncio.gather(
                    *(fake.wait_reply(i, timeout=seconds + 120) for i in interactions),
                    return_exceptions=True,
                )
                latencies = []
                for interaction, reply in zip(interactions, results, strict=True):
                    if isinstance(reply, BaseException) or not reply.embeds:
                        continue
                    answered_at = next(
                        r.at
                        for r in fake.calls_for(interaction.token)
                        if r.path.startswith("/webhooks/")
                    )
                    latencies.append((answered_at - sent_at[interaction.token]) * 1000)
            finally:
                bot.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await bot
    finally:
        await service.aclose()
    latencies.sort()
    return {
        "sent": n,
        "answered": len(latencies),
        "p50_ms": round(pct(latencies, 50), 1),
        "p95_ms": round(pct(latencies, 95), 1),
        "max_ms": round(latencies[-1], 1) if latencies else float("nan"),
    }


def run(n: int = 200, seconds: float = 10, settings: Settings | None = None) -> dict[str, Any]:
    """Send `n` /ask interactions over `seconds`; wait for every answer; latency percentiles."""
    return asyncio.run(_run(n, seconds, settings or Settings.load()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=200, help="interactions to send")
    parser.add_argument("--seconds", type=float, default=10, help="spread them over this long")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("discord").setLevel(logging.ERROR)
    print(json.dumps(run(args.n, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
