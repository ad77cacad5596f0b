"""The fake Slack, now a package by job (tests/fakes/slack/): this name stays importable."""

from tests.fakes.slack import *  # noqa: F403
from tests.fakes.slack import __all__ as __all__
