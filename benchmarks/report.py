"""The Markdown table and the scaling plot made from the JSON summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.breakdown import render as render_breakdown


def _yes(value: Any) -> str:
    return "n/a" if value is None else ("yes" if value else "**no**")


def _get(d: dict[str, Any], *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def _backends(s: dict[str, Any]) -> list[str]:
    """Both backends side by side (medians, and each against its own raw model), then issue 16's
    targets with what was measured."""
    per: dict[str, dict[str, Any]] = s.get("backends") or {}
    names = [b for b in per if per[b]]
    if not names:
        return []
    lines = [
        "",
        "## Both embedding backends, one run",
        "",
        "| measurement | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]

    def cells(fn: Any) -> str:
        out = []
        for b in names:
            try:
                out.append(str(fn(per[b])))
            except (KeyError, TypeError, IndexError):
                out.append("-")
        return " | ".join(out)

    lines += [
        "| cold start to first answer (`factbot ask`, median) | "
        + cells(lambda r: f"{r['cold_start']['factbot_ask_s']['median']} s")
        + " |",
        "| … vs the bare model on the same backend (import + load + encode once) | "
        + cells(
            lambda r: (
                f"{r['cold_start']['baseline_s']['median']} s = **{r['cold_start']['ratio']}x**"
            )
        )
        + " |",
        "| peak RSS of a cold `factbot ask` (largest run; median) | "
        + cells(
            lambda r: (
                f"**{r['cold_start']['factbot_ask_peak_rss_mb']['max']} MiB** "
                f"({r['cold_start']['factbot_ask_peak_rss_mb']['median']} MiB)"
            )
        )
        + " |",
        "| … the bare model's peak RSS | "
        + cells(lambda r: f"{r['cold_start']['baseline_peak_rss_mb']['max']} MiB")
        + " |",
        "| warm answer p50 (cache misses) vs one raw encode p50, same backend | "
        + cells(
            lambda r: (
                f"{r['warm']['answer_uncached']['p50_ms']} ms vs "
                f"{r['warm']['raw_encode_one']['p50_ms']} ms = **{r['warm']['ratio_p50']}x**"
            )
        )
        + " |",
        "| warm answer p95 vs one raw encode p95 | "
        + cells(
            lambda r: (
                f"{r['warm']['answer_uncached']['p95_ms']} ms vs "
                f"{r['warm']['raw_encode_one']['p95_ms']} ms"
            )
        )
        + " |",
        "| 64 askers through FactBotService.ask vs the backend's best batch throughput | "
        + cells(
            lambda r: (
                f"{r['throughput']['levels'][-1]['batched']['qps']} q/s vs "
                f"{r['throughput']['levels'][-1]['ceiling_qps']} q/s = "
                f"**{r['throughput']['top_share_of_ceiling']}**"
            )
        )
        + " |",
        "| 64 askers, p95 latency | "
        + cells(lambda r: f"{r['throughput']['levels'][-1]['batched']['p95_ms']} ms")
        + " |",
        "| peak RSS serving 64 askers (after load) | "
        + cells(lambda r: f"**{r['memory']['peak_rss_mb']} MiB** ({r['memory']['loaded_mb']} MiB)")
        + " |",
        "| … what importing the chat libraries (discord.py, slack_bolt) adds | "
        + cells(lambda r: f"{r['memory']['chat_libraries_mb']} MiB")
        + " |",
    ]
    return lines


def _targets(s: dict[str, Any]) -> list[str]:
    """Issue 24's targets (and issue 16's it does not restate) with what the run measured."""
    targets = s.get("targets") or []
    if not targets:
        return []
    lines = [
        "",
        "## Targets (issue 24)",
        "",
        "| target | measured | goal | met | issue |",
        "|---|---|---|---|---|",
    ]
    for t in targets:
        lines.append(
            f"| {t['target']} | {t['measured']} | {t['goal']} | {_yes(t['met'])} "
            f"| {t.get('issue', 16)} |"
        )
    return lines


def _load(s: dict[str, Any]) -> list[str]:
    """The load the run ran under, in words the README can quote."""
    load = s.get("load") or {}
    if not load:
        return []
    share = load.get("other_processes_cpu_share")
    return [
        "",
        f"**Load during this run**: load average {load.get('load_average_at_start')} at start, "
        f"{load.get('load_average_at_end')} at end; other processes used "
        f"**{share:.0%}** of the {s.get('machine', {}).get('usable_cores', '?')} usable cores' "
        f"time over the run's {load.get('seconds')} s (machine-wide busy time minus this run's "
        "own and its children's)"
        + (
            ", so absolute figures are pessimistic; ratios measured interleaved are the more "
            "trustworthy."
            if s.get("noisy")
            else "."
        ),
    ]


def render_markdown(s: dict[str, Any]) -> str:
    """Headline table (with targets), then builds, flat vs HNSW and throughput details."""
    m = s.get("machine", {})
    lines = [
        f"# factbot benchmarks ({s.get('mode', '?')} run)",
        "",
        f"{m.get('cpu_model', '?')}, {m.get('usable_cores', '?')} usable cores, "
        f"{m.get('ram_gib', '?')} GiB RAM, Python {m.get('python', '?')}, torch {m.get('torch', '?')}, "
        f"faiss-cpu {m.get('faiss_cpu', '?')}, sentence-transformers "
        f"{m.get('sentence_transformers', '?')}. Load average at start "
        f"{m.get('load_average_at_start')}, at end {m.get('load_average_at_end')}"
        + (" (**shared machine: other processes competed for the CPU**)" if s.get("noisy") else "")
        + f". Total {s.get('seconds_total', '?')} s.",
        *_load(s),
        "",
        f"Default embedding backend: {s.get('default_backend', 'torch')} (the table below; both "
        "backends side by side in the next section).",
        "",
        "| measurement | result | target | met |",
        "|---|---|---|---|",
    ]
    c = s.get("cold_start", {})
    if c:
        lines.append(
            f"| cold start to first answer (`factbot ask`, fresh process) vs import + load + "
            f"encode once | {_get(c, 'factbot_ask_s', 'median')} s vs "
            f"{_get(c, 'baseline_s', 'median')} s = **{c.get('ratio')}x** | <= {c.get('target')}x "
            f"| {_yes(c.get('met'))} |"
        )
    h = s.get("help", {})
    if h:
        lines.append(
            f"| `factbot --help` | {h.get('median_s')} s; torch imported: "
            f"{h.get('torch_imported')} | no torch | {_yes(h.get('torch_imported') is False)} |"
        )
    w = s.get("warm", {})
    if w:
        a, e, k = w["answer_uncached"], w["raw_encode_one"], w["answer_cached"]
        lines += [
            f"| warm Engine.answer p50 / p95 (distinct questions, cache misses "
            f"{w.get('cache_misses_verified')}) vs one raw encode | {a['p50_ms']} / {a['p95_ms']} "
            f"ms vs {e['p50_ms']} / {e['p95_ms']} ms = **{w.get('ratio_p50')}x** (p95 "
            f"{w.get('ratio_p95')}x) | <= {w.get('target')}x | {_yes(w.get('met'))} |",
            f"| warm Engine.answer, cached question (p50 / p95) | {k['p50_ms']} / {k['p95_ms']} ms "
            f"| - | - |",
        ]
    t = s.get("throughput", {})
    if t:
        ceiling = t["ceiling"]
        sweep = ceiling.get("sweep", {})
        top = t["levels"][-1]
        configs = ", ".join(
            f"{k.replace('_', ' ')} {v}"
            for k, v in ceiling.get("by_config_median_qps", {}).items()
            if k != "best"
        )
        lines += [
            f"| encoder ceiling (best raw-encoder configuration on the texts the service embeds — "
            f"a French question's gloss — in batches of {ceiling['batch']}, sampled between the "
            f"load runs) | {ceiling['median_qps']} q/s median (best {ceiling['best_qps']}; by "
            f"configuration: {configs}); sweep best {sweep.get('best_qps')} q/s at "
            f"{sweep.get('best_batch_size')} | - | - |",
            f"| {top['askers']} askers through FactBotService.ask: throughput | "
            f"{top['batched']['qps']} q/s = **{t.get('top_share_of_ceiling')}** of the ceiling "
            "(median of per-round ratios) "
            f"| >= 0.9 | {_yes(t.get('within_10pct_of_ceiling'))} |",
            f"| {top['askers']} askers: p95 batched vs one at a time | "
            f"{top['batched']['p95_ms']} ms vs {top['one_at_a_time']['p95_ms']} ms | lower "
            f"| {_yes(t.get('p95_below_one_at_a_time'))} |",
        ]
    for b in s.get("builds", []):
        lines.append(
            f"| index build, ~{b['target']} chunks ({b['chunks']}, {b['dense_index']}) | "
            f"{b['seconds']} s, {b['chunks_per_s']} chunks/s ({b['method']}) | - | - |"
        )
    ann = s.get("ann", {})
    if ann:
        lines.append(
            f"| HNSW_MIN_ROWS (HNSW faster than flat at recall@10 >= 0.99) | recommended "
            f"{ann.get('recommended_hnsw_min_rows')}, in index/vectors.py "
            f"{ann.get('current_hnsw_min_rows')} | - | - |"
        )
    mem = s.get("memory", {})
    if mem and "peak_rss_mb" in mem:
        lines.append(
            f"| peak RSS serving {mem.get('questions')} questions (64 askers) | "
            f"{mem['peak_rss_mb']} MiB (after load {mem.get('loaded_mb')} MiB) | - | - |"
        )
    d = s.get("discord_load", {})
    if d:
        if "p50_ms" in d:
            lines.append(
                f"| Discord end to end (benchmarks/discord_load.py, {d.get('sent')} /ask over "
                f"{d.get('seconds')} s) | p50 {d['p50_ms']} ms, p95 {d['p95_ms']} ms, answered "
                f"{d.get('answered')}/{d.get('sent')} | - | - |"
            )
        else:
            lines.append(f"| Discord end to end | {d.get('skipped') or d.get('error')} | - | - |")

    k = s.get("kinds", {})
    if k.get("classify_mean_ms") is not None:
        lines.append(
            f"| first-contact step (message-kind classification) beyond the encode, per message "
            f"({k['messages']} messages) | mean {k['classify_mean_ms']} ms, median "
            f"{k['classify_median_ms']}, p95 {k['classify_p95_ms']}; exemplars embedded once in "
            f"{k['exemplar_matrix_once_ms']} ms | <= {k.get('target_ms')} ms | {_yes(k.get('met'))} |"
        )
    lines += _targets(s)
    lines += _backends(s)
    b = s.get("breakdown", {})
    if b.get("phases"):
        lines += ["", "## Where a cold `factbot ask`'s memory goes (default backend)", ""]
        lines += render_breakdown(b)
    if t:
        lines += [
            "",
            "## Concurrent askers through FactBotService.ask",
            "",
            "| askers | questions | batched q/s | p50 / p95 ms | mean batch | one-at-a-time q/s "
            "| p50 / p95 ms | ceiling q/s | batched / ceiling |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in t["levels"]:
            b, o = row["batched"], row["one_at_a_time"]
            lines.append(
                f"| {row['askers']} | {row['questions']} | {b['qps']} | {b['p50_ms']} / "
                f"{b['p95_ms']} | {b['mean_batch']} | {o['qps']} | {o['p50_ms']} / {o['p95_ms']} "
                f"| {row.get('ceiling_qps')} | {row.get('share_of_ceiling')} |"
            )
        if sweep:
            lines += [
                "",
                "Raw encoder by batch size (q/s): "
                + ", ".join(f"{k}: {v}" for k, v in sweep["qps_by_batch_size"].items())
                + ".",
            ]
    th = s.get("threads", {})
    if th:
        lines += [
            "",
            "## Torch threads under CPU contention (one-question encode)",
            "",
            "| configuration | p50 ms | p95 ms |",
            "|---|---|---|",
        ]
        for key, v in th.items():
            if isinstance(v, dict):
                lines.append(f"| {key.replace('_', ' ')} | {v['p50_ms']} | {v['p95_ms']} |")
    if s.get("builds"):
        lines += [
            "",
            "## Index builds (synthetic corpora from the real chunks, perturbed)",
            "",
            "| target | chunks | dense index | build s | chunks/s | encode s | other s "
            "| retrieval p50 / p95 ms (no encode) | of which FAISS / BM25 scoring p50 ms | method |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for b in s["builds"]:
            r = b.get("retrieval", {})
            lines.append(
                f"| ~{b['target']} | {b['chunks']} | {b['dense_index']} | {b['seconds']} "
                f"| {b['chunks_per_s']} | {b['encode_s']} | {b['non_encode_s']} "
                f"| {r.get('p50_ms')} / {r.get('p95_ms')} | {r.get('dense_search_p50_ms')} / "
                f"{r.get('bm25_get_scores_p50_ms')} | {b['method']} |"
            )
    if ann:
        efs = list(ann["rows"][0]["hnsw"]) if ann.get("rows") else []
        lines += [
            "",
            f"## Flat vs HNSW (single query, k={ann.get('k')}, {ann.get('queries')} real "
            f"questions; HNSW M={_get(ann, 'hnsw_params', 'M')}, efConstruction="
            f"{_get(ann, 'hnsw_params', 'efConstruction')})",
            "",
            "| rows | flat p50 ms | HNSW build s | "
            + " | ".join(f"ef={ef}: p50 ms / recall@10 / recall@k / score loss" for ef in efs)
            + " |",
            "|---|---|---|" + "---|" * len(efs),
        ]
        for row in ann["rows"]:
            cells = []
            for ef in efs:
                hh = row["hnsw"][ef]
                rk = next(
                    (
                        v
                        for key, v in hh.items()
                        if key.startswith("recall_at_") and key != "recall_at_10"
                    ),
                    None,
                )
                cells.append(
                    f"{hh['p50_ms']} / {hh['recall_at_10']} / {rk} / {hh.get('score_loss_at_10')}"
                )
            lines.append(
                f"| {row['rows']} | {row['flat_p50_ms']} | {row['hnsw_build_s']} | "
                + " | ".join(cells)
                + " |"
            )
        lines += ["", f"Data: {ann.get('data')}."]
    if s.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in s["notes"]]
    return "\n".join(lines) + "\n"


def plot_scaling(s: dict[str, Any], path: Path) -> None:
    """Build time and query latency against corpus size (log-log), to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    builds = s.get("builds", [])
    for method, marker, fill in (("measured", "o", "tab:blue"), ("estimated", "s", "none")):
        pts = [b for b in builds if b["method"].startswith(method)]
        if pts:
            left.plot(
                [b["chunks"] for b in pts],
                [b["seconds"] for b in pts],
                marker=marker,
                linestyle="",
                markerfacecolor=fill,
                color="tab:blue",
                label=f"build ({method})",
            )
    if builds:
        left.plot(
            [b["chunks"] for b in builds],
            [b["seconds"] for b in builds],
            color="tab:blue",
            alpha=0.4,
        )
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("chunks")
    left.set_ylabel("index build time (s)")
    left.set_title("Index build time")
    left.grid(True, which="both", alpha=0.3)
    left.legend()

    ann = s.get("ann", {})
    rows = ann.get("rows", [])
    if rows:
        ef = str(_get(ann, "hnsw_params", "efSearch"))
        right.plot(
            [r["rows"] for r in rows], [r["flat_p50_ms"] for r in rows], "o-", label="FAISS flat"
        )
        right.plot(
            [r["rows"] for r in rows],
            [r["hnsw"][ef]["p50_ms"] for r in rows if ef in r["hnsw"]],
            "s-",
            label=f"FAISS HNSW (efSearch={ef})",
        )
    if builds:
        right.plot(
            [b["chunks"] for b in builds],
            [b["retrieval"]["p50_ms"] for b in builds],
            "^-",
            label="Retriever.search (dense+BM25+RRF)",
        )
    warm = s.get("warm", {})
    if warm:
        right.axhline(
            warm["raw_encode_one"]["p50_ms"],
            color="grey",
            linestyle="--",
            label="one question encode",
        )
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("rows / chunks in the index")
    right.set_ylabel("p50 latency per query (ms)")
    right.set_title("Query latency vs index size")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
