"""Serving: the one way in for every request, and the async service over the engine.

Intake (hygiene, cooldown, conversation memory), the service (micro-batcher, hot index swaps,
picking up other processes' builds), who may moderate, and the notes desk it hosts.

May import: `bot.answering`, `bot.notes`, `bot.storage`, the shared modules, `index`.
"""
