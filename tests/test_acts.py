"""Issue 22: every act through `factbot ask --json` (the JSON contract), the console and
`factbot about`, with the real model and index; the summary file validated."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.answering.kind_evaluation import load_first_contact
from index.corpus import check_corpus
from index.verdicts import severity_rank
from tests.conftest import ROOT
from tests.test_cli import run  # noqa: F401  (the fixture: a real `factbot` process)

Run = Callable[..., subprocess.CompletedProcess[str]]
CORPUS = ROOT / "corpus"
MESSAGES = [
    "de quoi parle cet article ?",  # gist
    "is this article reliable?",  # reliability
    "qui a écrit cet article ?",  # about
    "bonjour",  # greeting
    "merci !",  # thanks
    "what can you do?",  # help
    "c'est faux",  # feedback
    "qui a signé l'accord et combien de kg ?",  # multi
    "Combien de kilos d'expériences la France devait-elle embarquer sur Chang'e 6 ?",  # fact
]


@pytest.fixture
def replies(run: Run) -> list[dict[str, object]]:  # noqa: F811
    out = run("ask", "-", "--json", stdin="\n".join(MESSAGES) + "\n")
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def _corpus_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.rglob("*.md")))


def test_every_act_in_the_json_contract(replies: list[dict[str, object]]) -> None:
    acts = [r["act"] for r in replies]
    assert acts == [
        "gist", "reliability", "about", "greeting", "thanks", "help", "feedback", "multi", "fact",
    ]  # fmt: skip
    for r in replies:
        assert r["refused"] is False
    # Conversation acts: the reply's words only.
    for r in replies[3:7]:
        assert r["sources"] == [] and r["factchecks"] == [] and r["lead"] is None
        assert r["answer"]
    assert "/about" in str(replies[5]["answer"]) and "/factcheck" in str(replies[5]["answer"])
    # The gist leads with a sentence of the summary file, then headline and scorecard.
    gist = replies[0]
    lead = gist["lead"]
    assert isinstance(lead, dict) and lead["kind"] == "summary"
    assert lead["text"] in (CORPUS / "summary.md").read_text(encoding="utf-8")
    assert re.search(r"\d+ affirmations vérifiées : \d+ inexacte", str(gist["answer"]))
    # About: from the front matter, in the lead.
    about = replies[2]["lead"]
    assert isinstance(about, dict) and about["kind"] == "about"
    assert "dexplo.fr" in about["text"] and "2019-03" in about["text"]
    # Multi: one answer per question, each with its lead, leads exact corpus substrings.
    parts = replies[7]["parts"]
    assert isinstance(parts, list) and len(parts) == 2
    corpus = _corpus_text()
    for part in parts:
        assert part["lead"] is not None and part["lead"]["text"] in corpus
    assert "15 kg" in json.dumps(parts[1], ensure_ascii=False)
    assert "parts" not in replies[8]
    # Each reply in the asker's language: a French greeting or thanks is answered in French.
    assert [r["language"] for r in replies] == [
        "fr",
        "en",
        "fr",
        "fr",
        "fr",
        "en",
        "fr",
        "fr",
        "fr",
    ]


def test_reliability_lists_the_notes_that_are_not_accurate_most_serious_first(
    replies: list[dict[str, object]],
) -> None:
    notes = replies[1]["factchecks"]
    assert isinstance(notes, list)
    warnings = [
        p for p in (CORPUS / "factchecks").glob("*.md")
        if not re.search(r"^verdict: (accurate|mostly-accurate)$", p.read_text(), re.M)
    ]  # fmt: skip
    assert len(notes) == len(warnings) and len(notes) >= 2
    ranks = [severity_rank(n["verdict"]) for n in notes]
    assert ranks == sorted(ranks) and notes[0]["verdict"] == "inaccurate"
    assert "/factcheck" in str(replies[1]["answer"])
    assert replies[1]["sources"] == []


def test_about_command_prints_the_card(run: Run) -> None:  # noqa: F811
    out = run("about", "--json")
    assert out.returncode == 0, out.stderr
    card = json.loads(out.stdout)
    assert card["url"] == "https://dexplo.fr/" and card["published"] == "2019-03"
    assert card["notes_total"] == 17 and card["summary"]["fr"] and card["summary"]["en"]
    assert card["scorecard"][0] == {"verdict": "inaccurate", "count": 4}
    plain = run("about", "--lang", "en")
    assert "17 claims checked: 4 inaccurate" in plain.stdout


def test_version(run: Run) -> None:  # noqa: F811
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("factbot ")


def test_console_renders_help_with_its_own_commands_and_about(run: Run) -> None:  # noqa: F811
    out = run("chat", stdin="help\n/about\nbonjour\n")
    assert out.returncode == 0, out.stderr
    assert "/reindex" in out.stdout and "/quit" in out.stdout  # the console's commands
    assert "Lien: https://dexplo.fr/" in out.stdout or "Link: https://dexplo.fr/" in out.stdout


def test_first_contact_dev_lines_meet_their_expect_fields(run: Run) -> None:  # noqa: F811
    rows = [
        r for r in load_first_contact(ROOT / "tests/data/first_contact.jsonl") if r.split == "dev"
    ]
    out = run("ask", "-", "--json", stdin="\n".join(r.message for r in rows) + "\n")
    assert out.returncode == 0, out.stderr
    right = 0
    for row, line in zip(rows, out.stdout.splitlines(), strict=True):
        data = json.loads(line)
        right += not _json_failures(row.expect, data)
    assert right / len(rows) >= 0.9, f"{right}/{len(rows)}"


def _json_failures(expect: dict[str, object] | object, data: dict[str, object]) -> list[str]:
    """What `kind_evaluation.failed_expectations` checks, read from the JSON contract (what a
    client of `factbot ask --json` sees) rather than from an `Answer`."""
    assert isinstance(expect, dict)
    failed = []
    lead = data["lead"]["text"] if isinstance(data["lead"], dict) else ""
    text = str(data["answer"])
    if expect.get("not_refused") and data["refused"]:
        failed.append("not_refused")
    if "must_match" in expect and not any(
        re.search(str(expect["must_match"]), t, re.I) for t in (lead, text) if t
    ):
        failed.append("must_match")
    if expect.get("no_sources") and (data["sources"] or data["factchecks"]):
        failed.append("no_sources")
    minimum = expect.get("factchecks_min")
    if isinstance(minimum, int) and len(data["factchecks"]) < minimum:  # type: ignore[arg-type]
        failed.append("factchecks_min")
    if expect.get("records_feedback") and data["act"] != "feedback":
        failed.append("records_feedback")
    if expect.get("reaction_in_thread") and data["act"] != "thanks":
        failed.append("reaction_in_thread")
    patterns = expect.get("parts_match")
    if isinstance(patterns, list):
        parts = data.get("parts") or []
        assert isinstance(parts, list)
        if len(parts) != len(patterns) or not all(
            p["lead"] is not None and re.search(pat, p["lead"]["text"] + p["answer"], re.I)
            for p, pat in zip(parts, patterns, strict=False)
        ):
            failed.append("parts_match")
    return failed


def test_a_broken_summary_is_one_problem_line(tmp_path: Path, corpus_copy: Path) -> None:
    summary = corpus_copy / "summary.md"
    text = summary.read_text(encoding="utf-8")
    summary.write_text(text.replace("## English", "## Anglais"), encoding="utf-8")
    problems = check_corpus(corpus_copy)
    assert len(problems) == 1 and "summary.md" in str(problems[0]) and "English" in str(problems[0])
    assert check_corpus(CORPUS) == []
