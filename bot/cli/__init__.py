"""The `factbot` command line: the one place that builds and wires everything.

May import every package. Heavy modules load only when a command needs them.
"""

from bot.cli.commands import main

__all__ = ["main"]
