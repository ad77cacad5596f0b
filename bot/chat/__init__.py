"""Chat: the console, and one package per platform (`discord`, `slack`).

Adapters translate platform events in and render results out; policy lives in the core, and
the chat policy both platforms share is written once here, free of chat libraries: `flows` (a
vote and its reason form, /unanswered, /reindex, a note save's outcome → what to say),
`redelivery` (an event handled once), `threads` (the bot's own threads). Only
`bot.chat.discord` and `bot.chat.slack` may import discord or slack_bolt/slack_sdk; the console
and this module import neither. May import every core package (serving, answering, learning,
notes, ops, storage) and the shared modules; never `bot.cli`.
"""


class AdapterStartError(Exception):
    """A chat transport cannot start (missing or rejected token...): one line for the operator."""
