"""One vocabulary: every verdict the corpus validator accepts renders, with its label, on every
platform, and a warning verdict always looks like one; every message reads the same everywhere."""

from __future__ import annotations

import re
import string
from pathlib import Path

import discord
import pytest

from bot.answer import Answer, FactCheckRef, Language, SourceRef
from bot.answering.compose import factcheck_ref, refusal, render_text
from bot.chat.discord import render as discord_render
from bot.chat.slack import render as slack_render
from bot.messages import CATALOGUE, text
from index import corpus, verdicts
from index.store import NoteRecord

LANGUAGES: tuple[Language, ...] = ("fr", "en")
# The only verdicts that may render as sound. Any other verdict the validator accepts, today or
# added later, must render as a warning, or a quoted mistake could go out looking accurate.
SOUND = frozenset({"accurate", "mostly-accurate"})
# What reads as "this is right" on each platform.
SOUND_MARKS = ("✓", "✔", "✅", "☑")
SOUND_SHORTCODES = frozenset(
    {":white_check_mark:", ":heavy_check_mark:", ":ballot_box_with_check:", ":ok:", ":+1:"}
)
GREENS = frozenset(
    c.value
    for c in (discord.Colour.green(), discord.Colour.dark_green(), discord.Colour.brand_green())
)


def note_ref(
    verdict: str,
    language: Language,
    sources: tuple[tuple[str, str], ...] = (("CNES — DORN", "https://cnes.fr/projets/dorn"),),
) -> FactCheckRef:
    """A note with `verdict` and no `rating`, so its label is the verdict table's."""
    record = NoteRecord(
        id=f"fc-{verdict}",
        claim="nous allons embarquer 15 kg d'expériences",
        verdict=verdict,
        rating=None,
        summaries={"fr": "Seul DORN a volé.", "en": "Only DORN flew."},
        sources=sources,
        digest="",
    )
    return factcheck_ref(record, language)


def answer_with(note: FactCheckRef, language: Language) -> Answer:
    return Answer("Combien de kilos ?", language, False, "t", (), (note,), index_version="v1")


def rendered(note: FactCheckRef, language: Language) -> tuple[str, discord.Embed, str]:
    """The note as the first line of the plain text, a Discord embed, and its Slack section."""
    plain = render_text(language, [], [note]).splitlines()[0]
    embed = discord_render.answer_embed(answer_with(note, language))
    slack = slack_render.render_answer(answer_with(note, language))
    section = next(
        b["text"]["text"]
        for b in slack.blocks
        if b["type"] == "section" and "«" in b["text"]["text"]
    )
    return plain, embed, section


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", list(corpus.VERDICTS))  # what the validator accepts
def test_every_accepted_verdict_renders_everywhere_with_its_label(
    name: str, language: Language
) -> None:
    label = verdicts.VERDICTS[name].labels[language]
    assert label.strip()
    note = note_ref(name, language)
    assert note.label == label
    plain, embed, section = rendered(note, language)
    assert f" — {label}: « " in plain
    (field,) = embed.fields
    assert field.name is not None and field.name.endswith(f" {label}")
    assert f"— {label}*" in section
    page = discord_render.factcheck_embeds([note], None, language)[0]
    assert [f.name for f in page.fields] == [field.name]
    listing = slack_render.render_factchecks([note], None, language)
    assert any(f"— {label}*" in b["text"]["text"] for b in listing.blocks if b["type"] == "section")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", [*(v for v in corpus.VERDICTS if v not in SOUND), "bogus"])
def test_warning_verdicts_render_as_warnings_everywhere(name: str, language: Language) -> None:
    """Also a verdict unknown to the table (an index built by other code): warning by default."""
    note = note_ref(name, language)
    assert note.is_warning and verdicts.is_warning(name)  # what compose flags beside a quote
    plain, embed, section = rendered(note, language)
    assert plain.startswith("⚠ ")
    (field,) = embed.fields
    assert field.name is not None and not field.name.startswith(SOUND_MARKS)
    mark = field.name.split(" ")[0]
    footer = embed.footer.text or ""
    assert re.search(rf"{re.escape(mark)}\S* = ", footer) or f"/{mark}" in footer
    assert embed.colour is not None and embed.colour.value not in GREENS
    page = discord_render.factcheck_embeds([note], None, language)[0]
    assert page.colour is not None and page.colour.value not in GREENS
    assert section.split(" ")[0] not in SOUND_SHORTCODES


@pytest.mark.parametrize("name", sorted(SOUND))
def test_sound_verdicts_render_as_sound(name: str) -> None:
    plain, embed, section = rendered(note_ref(name, "en"), "en")
    assert plain.startswith("✓ ")
    assert embed.colour is not None and embed.colour.value in GREENS
    assert section.split(" ")[0] in SOUND_SHORTCODES


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_platform_shows_where_a_link_goes(language: Language) -> None:
    """A source title cannot pass for another site: its host is shown beside it (the plain text
    shows the whole URL after the title)."""
    posing = ("svom.cnes.fr — CNES", "https://cnes-svom.example/fr/page?x=1")
    note = note_ref("outdated", language, (posing,))
    embed = discord_render.answer_embed(answer_with(note, language))
    (field,) = embed.fields
    assert f"[svom.cnes.fr — CNES]({posing[1]}) (cnes-svom.example)" in (field.value or "")
    page = discord_render.factcheck_embeds([note], None, language)[0]
    assert "(cnes-svom.example)" in (page.fields[0].value or "")
    slack = slack_render.render_answer(answer_with(note, language))
    assert any(
        "|svom.cnes.fr — CNES> (cnes-svom.example)" in b["text"]["text"]
        for b in slack.blocks
        if b["type"] == "section"
    )
    listing = slack_render.render_factchecks([note], None, language)
    assert any(
        "> (cnes-svom.example)" in b["text"]["text"]
        for b in listing.blocks
        if b["type"] == "section"
    )
    assert f"svom.cnes.fr — CNES: {posing[1]}" in render_text(language, [], [note])


def test_the_validator_lists_the_table_in_order() -> None:
    assert list(corpus.VERDICTS) == list(verdicts.VERDICTS)
    assert all(v.name == name for name, v in verdicts.VERDICTS.items())
    assert {n for n in corpus.VERDICTS if verdicts.is_warning(n)} == set(corpus.VERDICTS) - SOUND


# ---------------------------------------------------------------------------- the catalogue


def placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_message_exists_in_both_languages_with_the_same_placeholders(key: str) -> None:
    entry = CATALOGUE[key]
    assert set(entry) == set(LANGUAGES)
    assert all(entry[lang].strip() for lang in LANGUAGES)
    assert placeholders(entry["fr"]) == placeholders(entry["en"])


def test_every_key_the_code_looks_up_is_in_the_catalogue() -> None:
    """Keys are strings: a typo would only fail when that message is first shown."""
    root = Path(__file__).resolve().parent.parent / "bot"
    # A catalogue lookup is a call of `text` or `message` (the catalogue's function under its
    # imported names), not a method of the same name such as `QuestionRejected.message`.
    lookup = re.compile(r"""(?<![.\w])(?:text|message)\(\s*["']([\w.]+)["']""")
    used = {key for path in root.rglob("*.py") for key in lookup.findall(path.read_text("utf-8"))}
    assert used, "the scan found no lookups: its pattern no longer matches the code"
    assert used - set(CATALOGUE) == set()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_refusal_reads_the_same_on_every_platform(language: Language) -> None:
    answer = refusal("Carbonara ?", language, "v1")
    assert answer.text == text("answer.refusal", language)
    not_covered = text("answer.not_covered", language)
    embed = discord_render.answer_embed(answer).to_dict()
    assert embed["description"].startswith(f"**{not_covered}.**\n{answer.text}")
    slack = slack_render.render_answer(answer)
    assert slack.text == slack_render.escape(f"{not_covered}. {answer.text}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_answer_and_listing_wording_is_shared(language: Language) -> None:
    note = note_ref("inaccurate", language)
    from_note = text("answer.from_note", language)
    answer = Answer(
        "Q",
        language,
        False,
        "t",
        sources=(SourceRef("u", "factcheck", "fc-x", None, "Résumé.", 0.5),),
        factchecks=(note,),
    )
    embed = discord_render.answer_embed(answer).to_dict()
    slack = slack_render.render_answer(answer)
    slack_text = "\n".join(
        b.get("text", {}).get("text", "") or " ".join(e["text"] for e in b.get("elements", []))
        for b in slack.blocks
    )
    footer = text("answer.footer", language)
    assert embed["footer"]["text"].startswith(footer)
    assert footer in slack_text
    assert f"**{from_note}**" in embed["description"] and f"*{from_note}*" in slack_text
    assert text("answer.true", language) in embed["fields"][0]["value"]
    assert text("answer.true", language) in slack_text
    none = f"{text('notes.none', language)} {text('notes.browse_all', language)}"
    assert discord_render.factcheck_specs([], "pizza", language)[0].description == none
    assert slack_render.render_factchecks([], "pizza", language).text == none


def test_no_message_hard_codes_the_article_date() -> None:
    """The article's date belongs to the corpus, not to the wording (it was Slack-only)."""
    for entry in CATALOGUE.values():
        for template in entry.values():
            assert not re.search(r"2019|March|mars", template), template
