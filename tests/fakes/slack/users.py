"""What a test does as a Slack user: a slash command, an event (a mention, a message), a button
press, a modal submitted; each an envelope shaped as Slack sends it."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.socket_mode import SocketMode
from tests.fakes.slack.state import APP_ID, BOT_USER_ID, TEAM_ID, Call


class UserEvents(SocketMode):
    """Envelopes from people, sent through the websocket."""

    async def command(
        self,
        command: str,
        text: str = "",
        *,
        user: str = "UALICE",
        user_name: str = "alice",
        channel: str = "CGENERAL",
    ) -> str:
        """Inject a slash command; returns the envelope id. Its response_url is `/respond/<n>`."""
        n = next(self._ids)
        return await self._send(
            {
                "envelope_id": f"env-cmd-{n}",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "token": "verification-token",
                    "team_id": TEAM_ID,
                    "team_domain": "fake",
                    "channel_id": channel,
                    "channel_name": "general",
                    "user_id": user,
                    "user_name": user_name,
                    "command": command,
                    "text": text,
                    "api_app_id": APP_ID,
                    "is_enterprise_install": "false",
                    "response_url": f"http://{self.host}:{self.port}/respond/{n}",
                    "trigger_id": f"trigger-{n}",
                },
            }
        )

    def _user(self, user: str, user_name: str) -> dict[str, Any]:
        return {"id": user, "username": user_name, "name": user_name, "team_id": TEAM_ID}

    async def block_action(
        self,
        message: Call,
        action_id: str,
        *,
        user: str = "UALICE",
        user_name: str = "alice",
        channel: str | None = None,
        confirm: bool = False,
    ) -> str:
        """Press the button `action_id` in `message`: a chat.postMessage call the bot made, or an
        ephemeral one (a `response_url` or chat.postEphemeral call; name its `channel` when the
        call does not). A button with a `confirm` dialog is pressed with `confirm=True` only (the
        person clicked the dialog's confirm button: Slack's client sends nothing before), and
        `confirm=True` on a button without one fails. A `block_actions` envelope; its
        response_url is `/respond/<n>` and its trigger_id `trigger-<n>`. Returns the envelope
        id."""
        ephemeral = message.method != "chat.postMessage"
        ts = message.response.get("ts") or message.response.get("message_ts") or self._next_ts()
        posted = {**message.args, "ts": ts, "type": "message"}
        found = [
            (block, element)
            for block in posted.get("blocks") or []
            if block.get("type") == "actions"
            for element in block.get("elements") or []
            if element.get("action_id") == action_id
        ]
        assert found, f"no button {action_id!r} in the message"
        block, button = found[0]
        assert bool(button.get("confirm")) == confirm, (
            f"button {action_id!r} {'has' if button.get('confirm') else 'has no'} confirm dialog"
        )
        channel = channel or str(posted.get("channel") or "")
        assert channel, "which channel is the message in?"
        n = next(self._ids)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user, user_name),
            "api_app_id": APP_ID,
            "token": "verification-token",
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            },
            "trigger_id": f"trigger-{n}",
            "team": {"id": TEAM_ID, "domain": "fake"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": "general"},
            "state": {"values": {}},
            "response_url": f"http://{self.host}:{self.port}/respond/{n}",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block.get("block_id", ""),
                    "text": button.get("text"),
                    "value": button.get("value", ""),
                    "type": "button",
                    "action_ts": self._next_ts(),
                    **({"confirm": button["confirm"]} if confirm else {}),
                }
            ],
        }
        if not ephemeral:  # Slack sends the message itself only for a posted one
            payload["message"] = posted
        return await self._send(
            {
                "envelope_id": f"env-act-{n}",
                "type": "interactive",
                "accepts_response_payload": False,
                "payload": payload,
            }
        )

    async def submit_view(
        self,
        view: dict[str, Any],
        values: dict[str, dict[str, str]],
        *,
        user: str = "UALICE",
        user_name: str = "alice",
    ) -> str:
        """Submit the modal `view` (one of `views_opened`) with `values` (block_id ->
        action_id -> the text typed, or for a static_select the value of the option chosen): a
        `view_submission` envelope. Returns the envelope id."""
        n = next(self._ids)
        state = {
            block: {action: self._input_state(view, block, action, typed)}
            for block, typed_in in values.items()
            for action, typed in typed_in.items()
        }
        envelope_id = f"env-view-{n}"
        self._submitted[envelope_id] = view
        return await self._send(
            {
                "envelope_id": envelope_id,
                "type": "interactive",
                "accepts_response_payload": True,
                "payload": {
                    "type": "view_submission",
                    "team": {"id": TEAM_ID, "domain": "fake"},
                    "user": self._user(user, user_name),
                    "api_app_id": APP_ID,
                    "token": "verification-token",
                    "trigger_id": f"trigger-{n}",
                    "view": {**view, "state": {"values": state}},
                    "response_urls": [],
                    "is_enterprise_install": False,
                    "enterprise": None,
                },
            }
        )

    @staticmethod
    def _input_state(view: dict[str, Any], block_id: str, action_id: str, typed: str) -> Any:
        """What Slack reports for one input: the element's type and its value."""
        elements = [
            b["element"]
            for b in view.get("blocks") or []
            if b.get("type") == "input" and b.get("block_id") == block_id
        ]
        if not elements or elements[0].get("type") not in ("static_select", "radio_buttons"):
            return {"type": "plain_text_input", "value": typed}
        element = elements[0]
        assert element.get("action_id") == action_id, f"no select {action_id!r} in {block_id!r}"
        chosen = [o for o in element.get("options") or [] if o.get("value") == typed]
        assert chosen, f"no option {typed!r} in the select {block_id!r}"
        return {"type": elements[0]["type"], "selected_option": chosen[0]}

    async def view_errors(self, envelope_id: str) -> dict[str, str] | None:
        """The `response_action: errors` a view submission was acked with (None: acked without,
        so the modal closed). Slack accepts errors on the view's input blocks only."""
        acked = await self.wait_acked(envelope_id)
        if not acked or acked.get("response_action") != "errors":
            return None
        errors = dict(acked["errors"])
        view = self._submitted[envelope_id]
        inputs = {b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"}
        assert set(errors) <= inputs, f"errors on blocks that are not inputs: {errors}"
        assert all(isinstance(e, str) and e for e in errors.values()), errors
        return errors

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Inject an Events API event (app_mention, message...); returns the envelope id.

        A redelivery, as after a lost ack: the same `envelope_id` and `event_id`, with
        `retry_attempt=1, retry_reason="timeout"`."""
        n = next(self._ids)
        return await self._send(
            {
                "envelope_id": envelope_id or f"env-evt-{n}",
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": retry_attempt,
                "retry_reason": retry_reason,
                "payload": self.event_payload(event, event_id=event_id or f"Ev{n:08d}", n=n),
            }
        )

    def event_payload(
        self, event: dict[str, Any], *, event_id: str, n: int | None = None
    ) -> dict[str, Any]:
        """The `event_callback` body of one event (an envelope's payload; HTTP mode's body)."""
        n = next(self._ids) if n is None else n
        return {
            "token": "verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": {"team": TEAM_ID, "event_ts": event.get("ts", ""), **event},
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1700000000 + n,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
