"""Operations: Prometheus metrics, health, and what `factbot run` reports while it serves.

May import: `bot.serving`, `bot.answering`, `bot.learning`, the shared modules, `index`.
"""
