"""Moderators' notes from chat: the form, the corpus validator, saving with history, the rebuild.

    desk = NoteDesk(service, repository, settings)
    form = await desk.form()                       # blank, for /note add
    form = await desk.form("fc-13-launch-date")    # filled, for /note edit (or an older revision)
    outcome = await desk.save(form, moderator, note_id=None)  # NoteSaved | NoteRejected | ...
    await desk.remove("fc-13-launch-date", moderator)
    await desk.show(note_id); await desk.history(note_id); await desk.choices("fc-1")

Transport-independent: Discord and Slack open the same form, hand what the moderator typed here
and render the outcome with `bot/note_text.py`. A submitted form becomes the text of a corpus
note file and goes through the same validator as the files under `corpus/factchecks/`, against
the corpus as it would be with the change (`index/corpus.py`); nothing is saved unless it passes.
A saved change is a new revision in the database (`bot/storage/notes.py`); the index is then
rebuilt exactly as `/reindex` does (`FactBotService.reindex`). Every method raises
`NotesUnavailable` (one line) when the database cannot be reached.
"""
