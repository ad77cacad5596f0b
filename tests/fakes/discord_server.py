"""The fake Discord, now a package by job (tests/fakes/discord/): this name stays importable."""

from tests.fakes.discord import *  # noqa: F403
from tests.fakes.discord import __all__ as __all__
