"""Notes: moderators' fact-check notes made in chat, and the notes' exports.

The records the note commands take and give back, the desk (form, validation, saving, rebuild),
their wording, `factbot notes export` and the ClaimReview export.

May import: `bot.answering`, `bot.storage`, the shared modules, `index`.
"""
