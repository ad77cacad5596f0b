"""Write a fact-check note in the corpus file format (`corpus/README.md`).

A note made in chat is stored as exactly this text, so it goes through the same validator as the
files under `corpus/factchecks/`, and `factbot notes export` writes it out unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from index.corpus import SECTION_HEADINGS


def render_note(
    note_id: str,
    claim: str,
    verdict: str,
    reviewed: str,
    sources: Sequence[tuple[str, str]],
    sections: dict[str, str],
    rating: str | None = None,
) -> str:
    """The note file's text: YAML front matter, then one section per language."""
    import yaml  # here: only writing a note needs it, not a start (`factbot ask`)

    meta: dict[str, object] = {"id": note_id, "claim": claim, "verdict": verdict}
    if rating:
        meta["rating"] = rating
    meta["reviewed"] = reviewed
    meta["sources"] = [{"title": title, "url": url} for title, url in sources]
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=100)
    body = "\n\n".join(
        f"{heading}\n\n{sections.get(lang, '').strip()}".rstrip()
        for lang, heading in SECTION_HEADINGS.items()
    )
    return f"---\n{front}---\n{body}\n"
