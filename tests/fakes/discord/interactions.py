"""What a test does as a Discord user: a slash command, an autocomplete, a button press, a modal
submit (each an INTERACTION_CREATE, shaped as Discord sends it), or a message (MESSAGE_CREATE)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.fakes.discord.gateway import Gateway
from tests.fakes.discord.records import Interaction, user_payload


class Interactions(Gateway):
    """Events from users, injected through the gateway."""

    async def interact(
        self,
        command: str,
        options: dict[str, str | int] | None = None,
        *,
        user_id: int = 1400000000000000001,
        user_name: str = "alice",
        permissions: int = 0,
        roles: Sequence[int] = (),
        channel_id: int | None = None,
        locale: str = "en-US",
        subcommand: str | None = None,
        dm_channel_id: int | None = None,
    ) -> Interaction:
        """Inject an INTERACTION_CREATE for slash command `command` (as `user_id`); with
        `subcommand`, for `/command subcommand` (its options nested in a type 1 option); with
        `dm_channel_id`, in the user's DM with the bot (no guild, no member)."""
        data = self._command_data(command, subcommand, options)
        payload = self._interaction(
            2,
            data,
            channel_id=dm_channel_id or channel_id or self.channel_id,
            user_id=user_id,
            user_name=user_name,
            permissions=permissions,
            roles=roles,
            locale=locale,
        )
        if dm_channel_id is not None:
            self.dm_channels.add(dm_channel_id)
            for key in ("guild_id", "member", "guild_locale"):
                payload.pop(key, None)
            payload["user"] = user_payload(user_id, user_name)
            payload["channel"] = {
                "id": str(dm_channel_id),
                "type": 1,  # DM
                "recipients": [user_payload(user_id, user_name)],
                "last_message_id": None,
            }
            payload["context"] = 1  # BOT_DM
            payload["authorizing_integration_owners"] = {"0": str(self.guild_id)}
            payload["data"].pop("guild_id", None)
        return await self._inject(payload)

    async def autocomplete(
        self,
        command: str,
        focused: str,
        typed: str,
        options: dict[str, str | int] | None = None,
        *,
        subcommand: str | None = None,
        user_id: int = 1400000000000000001,
        user_name: str = "alice",
        permissions: int = 0,
        roles: Sequence[int] = (),
        locale: str = "en-US",
    ) -> Interaction:
        """The user types `typed` into option `focused` of `/command [subcommand]`: an
        autocomplete interaction (type 4), answered with choices (callback type 8)."""
        data = self._command_data(command, subcommand, {**(options or {}), focused: typed})
        nested = data["options"][0]["options"] if subcommand else data["options"]
        next(o for o in nested if o["name"] == focused)["focused"] = True
        payload = self._interaction(
            4,
            data,
            channel_id=self.channel_id,
            user_id=user_id,
            user_name=user_name,
            permissions=permissions,
            roles=roles,
            locale=locale,
        )
        return await self._inject(payload)

    def _command_data(
        self, command: str, subcommand: str | None, options: dict[str, str | int] | None
    ) -> dict[str, Any]:
        synced = self.commands.get(self.guild_id) or self.commands.get(None) or []
        command_id = next((c["id"] for c in synced if c["name"] == command), str(self.snowflake()))
        data: dict[str, Any] = {"id": command_id, "name": command, "type": 1}
        if self.guild_id in self.commands:
            data["guild_id"] = str(self.guild_id)
        values = [
            {"name": k, "type": 4 if isinstance(v, int) else 3, "value": v}
            for k, v in (options or {}).items()
        ]
        if subcommand is not None:
            data["options"] = [{"name": subcommand, "type": 1, "options": values}]
        elif values:
            data["options"] = values
        return data

    def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        channel_id: int,
        user_id: int,
        user_name: str,
        permissions: int,
        roles: Sequence[int],
        locale: str,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        iid = self.snowflake()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.app_id),
            "type": kind,
            "token": f"itoken-{iid}",
            "version": 1,
            "guild_id": str(self.guild_id),
            "channel_id": str(channel_id),
            "channel": self.channel_payload(channel_id, "general"),
            "member": self.member_payload(user_id, user_name, roles, permissions),
            "data": data,
            "app_permissions": str((1 << 41) - 1),
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        return payload

    async def press(
        self,
        message: dict[str, Any],
        custom_id: str,
        *,
        user_id: int = 1400000000000000001,
        user_name: str = "alice",
        permissions: int = 0,
        roles: Sequence[int] = (),
        locale: str = "en-US",
    ) -> Interaction:
        """Press the button `custom_id` of `message` (a message payload the fake returned to
        the bot, with its components): a component interaction, as Discord sends it."""
        buttons = [
            c for row in message.get("components") or [] for c in row.get("components") or []
        ]
        button = next((b for b in buttons if b.get("custom_id") == custom_id), None)
        assert button is not None, f"no button {custom_id!r} on message {message.get('id')}"
        payload = self._interaction(
            3,
            {"custom_id": custom_id, "component_type": int(button["type"])},
            channel_id=int(message["channel_id"]),
            user_id=user_id,
            user_name=user_name,
            permissions=permissions,
            roles=roles,
            locale=locale,
            message=message,
        )
        return await self._inject(payload)

    async def submit_modal(
        self,
        custom_id: str,
        values: dict[str, str | list[str]],
        *,
        channel_id: int | None = None,
        user_id: int = 1400000000000000001,
        user_name: str = "alice",
        permissions: int = 0,
        roles: Sequence[int] = (),
        locale: str = "en-US",
    ) -> Interaction:
        """Submit the modal `custom_id` with `values` (text input custom_id -> text, or select
        custom_id -> the chosen values): a modal submit interaction, each input in a Label
        (type 18) as Discord sends them now."""
        components = [
            {"type": 18, "id": i, "component": _submitted(k, v)}
            for i, (k, v) in enumerate(values.items(), 1)
        ]
        payload = self._interaction(
            5,
            {"custom_id": custom_id, "components": components},
            channel_id=channel_id or self.channel_id,
            user_id=user_id,
            user_name=user_name,
            permissions=permissions,
            roles=roles,
            locale=locale,
        )
        return await self._inject(payload)

    async def _inject(self, payload: dict[str, Any]) -> Interaction:
        interaction = Interaction(int(payload["id"]), payload["token"], payload)
        self.interactions[interaction.token] = interaction
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction

    async def post_message(
        self,
        content: str,
        *,
        channel_id: int | None = None,
        author_id: int = 1400000000000000001,
        author_name: str = "alice",
        mention_bot: bool = False,
        bot_author: bool = False,
    ) -> dict[str, Any]:
        """Inject a MESSAGE_CREATE from a user (or another bot) in a channel or thread."""
        author = user_payload(author_id, author_name, bot=bot_author)
        mentions = [self.bot_user()] if mention_bot else []
        msg = self.message_payload(
            channel_id or self.channel_id, author, {"content": content}, mentions=mentions
        )
        msg["member"] = {k: v for k, v in self.member_payload(author_id, author_name).items()}
        msg["member"].pop("user")
        await self.dispatch("MESSAGE_CREATE", msg)
        return msg


def _submitted(custom_id: str, value: str | list[str]) -> dict[str, Any]:
    """One input of a modal submit: a text input (type 4) or a string select (type 3)."""
    if isinstance(value, list):
        return {"type": 3, "custom_id": custom_id, "values": value}
    return {"type": 4, "custom_id": custom_id, "value": value}
