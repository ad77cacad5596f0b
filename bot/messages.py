"""The message catalogue: every user-facing string, per language, one wording for every platform.

Adapters (console, Discord, Slack) and the core look strings up here by key with `text()`; none
writes user-facing wording of its own. Keys are grouped by who uses them.
"""

from __future__ import annotations

from bot.answer import Language

CATALOGUE: dict[str, dict[Language, str]] = {
    # ---------------------------------------------------------------- answers and notes (rendering)
    # Answers: the plain text (console, JSON `answer`), Discord embeds and Slack blocks.
    "answer.article": {"fr": "D'après l'article", "en": "From the article"},
    "answer.factcheck": {"fr": "Vérification", "en": "Fact-check"},
    "answer.true": {"fr": "Ce qui est vrai", "en": "What is true"},
    "answer.claim": {"fr": "Affirmation", "en": "Claim"},
    "answer.from_note": {"fr": "D'après une note de vérification", "en": "From a fact-check note"},
    "answer.asked": {"fr": "a demandé", "en": "asked"},
    "answer.refusal": {
        "fr": "L'article ne traite pas de cette question, et aucune note de vérification ne la "
        "couvre.",
        "en": "The article doesn't cover that, and none of the fact-check notes does either.",
    },
    "answer.not_covered": {"fr": "Pas couvert par l'article", "en": "Not covered by the article"},
    "answer.refused_hint": {
        "fr": "Essayez /factcheck pour parcourir les notes de vérification.",
        "en": "Try /factcheck to browse the fact-check notes.",
    },
    "answer.footer": {
        "fr": "Citations exactes de l'article · notes de vérification de factbot",
        "en": "Verbatim quotes from the article · fact-check notes by factbot",
    },
    # Where every warning verdict shares one mark (Discord), the footer says what it means.
    "answer.warning_legend": {
        "fr": "{mark} = l'article se trompe ou a vieilli",
        "en": "{mark} = the article is wrong or outdated",
    },
    "answer.index": {"fr": "index {version}", "en": "index {version}"},
    "answer.thread": {"fr": "Question", "en": "Question"},
    "more_not_shown": {"fr": "{n} de plus, non affichés", "en": "{n} more not shown"},
    "and_more": {"fr": "… et {n} de plus", "en": "… and {n} more"},
    # /factcheck
    "notes.title": {"fr": "Notes de vérification ({n})", "en": "Fact-check notes ({n})"},
    "notes.topic": {"fr": "Notes sur « {topic} »", "en": "Notes about “{topic}”"},
    "notes.none": {
        "fr": "Aucune note de vérification ne correspond à ce sujet.",
        "en": "No fact-check note matches that topic.",
    },
    "notes.browse_all": {
        "fr": "Essayez /factcheck sans sujet pour voir toutes les notes.",
        "en": "Try /factcheck with no topic for all notes.",
    },
    "notes.more": {
        "fr": "{n} autres notes non affichées : précisez avec /factcheck sujet",
        "en": "{n} more notes not shown: narrow it down with /factcheck topic",
    },
    "notes.page": {"fr": "page {i}/{n}", "en": "page {i}/{n}"},
    # /sources
    "sources.title": {"fr": "Sources", "en": "Sources"},
    "sources.documents": {"fr": "Documents", "en": "Documents"},
    "sources.no_documents": {"fr": "Aucun document indexé.", "en": "No document is indexed."},
    "sources.notes": {"fr": "Notes de vérification", "en": "Fact-check notes"},
    "sources.passages": {"fr": "Passages indexés", "en": "Passages indexed"},
    "sources.version": {"fr": "Version de l'index", "en": "Index version"},
    "sources.model": {"fr": "Modèle d'embedding", "en": "Embedding model"},
    "sources.built": {"fr": "Construit le", "en": "Built"},
    "sources.summary": {
        "fr": "Sources : {documents} documents, {notes} notes de vérification",
        "en": "Sources: {documents} documents, {notes} fact-check notes",
    },
    # /reindex (moderators)
    "reindex.done": {  # `report` is a bot.status.ReindexReport
        "fr": "Index reconstruit en {report.seconds:.1f} s : {report.chunk_count} passages "
        "(version `{report.previous_version}` → `{report.version}`).",
        "en": "Index rebuilt in {report.seconds:.1f} s: {report.chunk_count} chunks "
        "(version `{report.previous_version}` → `{report.version}`).",
    },
    "reindex.joined": {
        "fr": "Votre demande a rejoint une reconstruction déjà en cours.",
        "en": "Your request joined a rebuild that was already running.",
    },
    "reindex.changes": {"fr": "Changements :", "en": "Changes:"},
    "reindex.no_change": {"fr": "aucun changement de contenu", "en": "no content change"},
    "reindex.failed": {
        "fr": "Échec de la reconstruction : l'index précédent (`{version}`) reste en service.\n"
        "Corrigez le corpus et relancez /reindex :",
        "en": "Rebuild failed: the previous index (`{version}`) keeps serving.\n"
        "Fix the corpus and run /reindex again:",
    },
    "reindex.no_detail": {"fr": "(aucun détail fourni)", "en": "(no details were reported)"},
    # ---------------------------------------------------------------- chat flow (intake, cooldown,
    # permissions, errors)
}


def text(key: str, language: Language, **values: object) -> str:
    """The catalogue string `key` in `language`, formatted with `values`."""
    template = CATALOGUE[key][language]
    return template.format(**values) if values else template
