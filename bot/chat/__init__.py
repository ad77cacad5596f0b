"""Transport adapters: the console, Discord and Slack. Each renders `Answer`s; none retrieves.

Only modules in this package may import discord or slack_bolt.
"""


class AdapterStartError(Exception):
    """A chat transport cannot start (missing or rejected token...): one line for the operator."""
