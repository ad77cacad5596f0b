"""Answering: a question in, an `Answer` out, from one immutable index.

The engine (retrieval, the relevance gate, the near-miss check, the lead, composition), reading
chat text, language, thread context, the index's lifecycle and `factbot eval`.

The index's change events (what a rebuild changed, as data) live here too, beside the status
records that carry them.

May import: `index`, the shared modules (`bot.settings`, `bot.messages`, `bot.answer`,
`bot.logs`), `bot.storage` (its errors). Never serving, learning, notes, chat, ops or cli.
"""
