"""Learning: what the community asked, how it voted, and what moderators should write next.

The question log (an intake observer), votes, the bot's threads, the moderators' report
(grouping near-duplicate questions).

May import: `bot.serving`, `bot.answering`, `bot.storage`, the shared modules, `index`.
"""
