"""The moderators' note commands in words: every line the adapters show, per language.

Discord and Slack wrap these lines in an embed, a modal or Block Kit and add no wording of their
own; the words come from the catalogue (`bot/messages.py`), the verdict labels from the verdict
table (`index/verdicts.py`). Backticks and guillemets only: both platforms render them alike.
"""

from __future__ import annotations

from datetime import datetime

from bot.answer import Language
from bot.messages import text
from bot.notes.records import (
    FormField,
    NoteHistory,
    NoteRejected,
    NoteSaved,
    NoteShown,
    NoteUnknown,
)
from index.verdicts import VERDICTS, verdict

MAX_CLAIM_SHOWN = 200


def field_label(field: FormField, language: Language) -> str:
    return text(f"note.field.{field}", language)


def field_placeholder(field: FormField, language: Language) -> str:
    return text(f"note.hint.{field}", language)


def form_title(note_id: str | None, language: Language) -> str:
    """The form's title: a new note, or the note being edited (ids fit Discord's 45 chars)."""
    if note_id is None:
        return text("note.form.add", language)
    return text("note.form.edit", language, note_id=note_id)[:45]


def verdict_options(language: Language) -> list[tuple[str, str]]:
    """(verdict name, label) of every verdict a note may carry, in the table's order."""
    return [(name, v.label(language)) for name, v in VERDICTS.items()]


def _short(claim: str) -> str:
    return claim if len(claim) <= MAX_CLAIM_SHOWN else claim[: MAX_CLAIM_SHOWN - 1] + "…"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def rejected_lines(rejected: NoteRejected, language: Language) -> list[str]:
    """Nothing saved, and each problem beside the field it concerns."""
    lines = [text("note.rejected", language, n=len(rejected.problems))]
    for problem in rejected.problems:
        if problem.field is None:
            lines.append(text("note.problem.note", language, message=problem.message))
        else:
            label = field_label(problem.field, language)
            lines.append(text("note.problem", language, field=label, message=problem.message))
    return lines


def field_errors(rejected: NoteRejected, language: Language) -> dict[FormField, str]:
    """The problems per form field (for a form that shows errors beside its fields, as Slack's
    modals do); problems about the whole note go on the claim."""
    errors: dict[FormField, list[str]] = {}
    for problem in rejected.problems:
        errors.setdefault(problem.field or "claim", []).append(problem.message)
    return {field: "\n".join(messages) for field, messages in errors.items()}


def saved_lines(saved: NoteSaved, language: Language) -> list[str]:
    """The moderator's private report: what changed, the index now served, a sample question."""
    lines = [
        text(f"note.{saved.action}", language, note_id=saved.note_id, revision=saved.revision),
        text("note.claim", language, claim=_short(saved.claim)),
    ]
    if saved.verdict is not None:
        lines.append(text("note.verdict", language, label=verdict(saved.verdict).label(language)))
    if saved.index_version is None:
        lines.append(text("note.rebuild_failed", language, version=saved.previous_version))
        lines.extend(f"• {problem}" for problem in saved.rebuild_problems)
        return lines
    lines.append(text("note.index", language, old=saved.previous_version, new=saved.index_version))
    changed = saved.changes.lines(language) if saved.changes is not None else ()
    if changed:
        lines.append(text("note.changes", language, changes="; ".join(changed)))
    if saved.action != "removed":
        if saved.sample_question:
            lines.append(text("note.sample", language, question=saved.sample_question))
        else:
            lines.append(text("note.no_sample", language))
    return lines


def shown_lines(shown: NoteShown, language: Language) -> list[str]:
    """`/note show`: verdict, claim, what is true (in `language`), sources, and its origin."""
    label = verdict(shown.verdict).label(language)
    body = shown.fr if language == "fr" else shown.en
    lines = [
        text("note.show.title", language, note_id=shown.note_id, label=label),
        text("note.claim", language, claim=_short(shown.claim)),
        text("note.show.true", language, text=body),
        *(text("note.show.source", language, title=t, url=u) for t, u in shown.sources),
    ]
    if shown.served == "chat" and shown.revision is not None:
        lines.append(
            text(
                "note.show.from_chat",
                language,
                revision=shown.revision,
                author=shown.updated_by or "?",
                at=_when(shown.updated_at) if shown.updated_at else "?",
            )
        )
    elif shown.file_path:
        lines.append(text("note.show.from_file", language, path=shown.file_path))
    return lines


def history_lines(history: NoteHistory, language: Language) -> list[str]:
    """`/note history`: every chat revision, then which version is served and why."""
    lines = [text("note.history.title", language, note_id=history.note_id)]
    if not history.revisions:
        lines.append(text("note.history.none", language, path=history.file_path or "?"))
        return lines
    for rev in history.revisions:
        detail = f" · {verdict(rev.verdict).label(language)}" if rev.verdict else ""
        lines.append(
            text(
                "note.history.row",
                language,
                revision=rev.revision,
                at=_when(rev.at),
                action=text(f"note.history.action.{rev.action}", language),
                author=rev.author,
                detail=detail,
            )
        )
    last = history.revisions[-1].revision
    if history.served == "file":
        lines.append(text("note.history.file_wins", language, path=history.file_path or "?"))
    elif history.served == "removed":
        lines.append(text("note.history.served_removed", language, revision=last))
    else:
        lines.append(text("note.history.served_chat", language, revision=last))
    if len(history.revisions) > 1 or history.served == "removed":
        lines.append(text("note.history.restore", language, note_id=history.note_id))
    return lines


def unknown_line(unknown: NoteUnknown, language: Language) -> str:
    return text("note.unknown", language, note_id=unknown.note_id)


def unavailable_line(language: Language) -> str:
    return text("note.unavailable", language)


def confirm_remove_line(note_id: str, claim: str, language: Language) -> str:
    return text("note.confirm_remove", language, note_id=note_id, claim=_short(claim))


def removal_cancelled_line(language: Language) -> str:
    return text("note.removal_cancelled", language)
