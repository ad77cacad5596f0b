"""Whose data a moderator may read: one Discord server or one Slack workspace.

Question rows carry the server (Discord guild id) or workspace (Slack team id) they were asked
in, as `question_log.guild_id`; a direct message carries none, so it belongs to no community and
no moderator reads it in chat. Adapters know the caller's server or workspace and pass it as this
plain value; the report and the `/note` save's sample question read only that community's rows.
`factbot report` on the host passes no community and sees everything.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Community:
    """A Discord server (`platform="discord"`, the guild id) or a Slack workspace (`"slack"`,
    the team id)."""

    platform: str
    id: str

    def describe(self) -> str:
        kind = "workspace" if self.platform == "slack" else "server"
        return f"{self.platform} {kind} {self.id}"

    def to_json(self) -> dict[str, str]:
        return {"platform": self.platform, "community": self.id}


def community_of(platform: str, community_id: str | int | None) -> Community | None:
    """The community of a caller, or None (a DM, or the platform did not say)."""
    if community_id is None or str(community_id) == "":
        return None
    return Community(platform, str(community_id))
