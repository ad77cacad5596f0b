"""The Block Kit and modal limits Slack enforces, as the fake Slack checks them on every message,
ephemeral and view the bot sends (an empty list: valid). Tests call them on rendered payloads too."""

from __future__ import annotations

import json
from typing import Any


def view_problems(view: dict[str, Any]) -> list[str]:
    """The modal limits Slack enforces that a view breaks (empty list: valid)."""
    problems = block_kit_problems({"text": "view", "blocks": view.get("blocks") or []})
    if view.get("type") != "modal":
        problems.append("not a modal")
    for key in ("title", "submit", "close"):
        text = (view.get(key) or {}).get("text", "")
        if (key == "title" or key in view) and not 1 <= len(text) <= 24:
            problems.append(f"{key} length {len(text)} (1-24)")
    if len(view.get("private_metadata", "")) > 3000:
        problems.append("private_metadata longer than 3000")
    if len(view.get("blocks") or []) > 100:
        problems.append("more than 100 blocks")
    return problems


def block_kit_problems(args: dict[str, Any]) -> list[str]:
    """The Block Kit limits Slack enforces that a message breaks (empty list: valid)."""
    problems: list[str] = []
    blocks = args.get("blocks")
    if isinstance(blocks, str):  # form-encoded calls send blocks as JSON text
        blocks = json.loads(blocks)
    text = args.get("text")
    if not blocks and not text:
        problems.append("no text and no blocks")
    if isinstance(text, str) and len(text) > 40_000:
        problems.append("text longer than 40000")
    for i, block in enumerate(blocks or []):
        kind = block.get("type")
        if kind == "section":
            t = block.get("text", {})
            if not 1 <= len(t.get("text", "")) <= 3000:
                problems.append(f"block {i}: section text length {len(t.get('text', ''))}")
        elif kind == "header":
            t = block.get("text", {})
            if t.get("type") != "plain_text" or not 1 <= len(t.get("text", "")) <= 150:
                problems.append(f"block {i}: bad header")
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 10:
                problems.append(f"block {i}: context with {len(elements)} elements")
            for e in elements:
                if not 1 <= len(e.get("text", "")) <= 3000:
                    problems.append(f"block {i}: context element length")
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 25:
                problems.append(f"block {i}: actions with {len(elements)} elements")
            ids = [e.get("action_id") for e in elements]
            if len(set(ids)) != len(ids):
                problems.append(f"block {i}: duplicate action_id")
            for e in elements:
                label = (e.get("text") or {}).get("text", "")
                if e.get("type") != "button" or not 1 <= len(label) <= 75:
                    problems.append(f"block {i}: bad button")
                if len(e.get("value", "")) > 2000 or len(e.get("accessibility_label", "")) > 75:
                    problems.append(f"block {i}: button value or label too long")
                if e.get("style") not in (None, "primary", "danger"):
                    problems.append(f"block {i}: bad button style")
                if "confirm" in e:
                    problems.extend(f"block {i}: {p}" for p in confirm_problems(e["confirm"]))
        elif kind == "input":
            label = (block.get("label") or {}).get("text", "")
            element = block.get("element")
            if not 1 <= len(label) <= 2000 or not isinstance(element, dict):
                problems.append(f"block {i}: bad input")
            else:
                problems.extend(f"block {i}: {p}" for p in input_problems(element))
        elif kind != "divider":
            problems.append(f"block {i}: unexpected type {kind}")
    if blocks is not None and len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks (max 50)")
    return problems


def _text_within(obj: Any, limit: int) -> bool:
    return isinstance(obj, dict) and 1 <= len(obj.get("text", "")) <= limit


def confirm_problems(confirm: dict[str, Any]) -> list[str]:
    """A confirmation dialog's limits: title 100, text 300, confirm and deny 30."""
    limits = {"title": 100, "text": 300, "confirm": 30, "deny": 30}
    problems = [
        f"confirm {key} missing or too long"
        for key, most in limits.items()
        if not _text_within(confirm.get(key), most)
    ]
    if confirm.get("style") not in (None, "primary", "danger"):
        problems.append("bad confirm style")
    return problems


def input_problems(element: dict[str, Any]) -> list[str]:
    """An input block's element: a plain_text_input or a static_select, within Slack's limits."""
    problems: list[str] = []
    if "placeholder" in element and not _text_within(element["placeholder"], 150):
        problems.append("placeholder too long")
    kind = element.get("type")
    if kind == "plain_text_input":
        most = element.get("max_length", 3000)
        if not 1 <= most <= 3000 or len(element.get("initial_value", "")) > most:
            problems.append("plain_text_input max_length or initial_value")
    elif kind == "static_select":
        options = element.get("options") or []
        if not 1 <= len(options) <= 100:
            problems.append(f"static_select with {len(options)} options")
        for option in options:
            if not _text_within(option.get("text"), 75) or not 1 <= len(option["value"]) <= 150:
                problems.append("bad option")
        if "initial_option" in element and element["initial_option"] not in options:
            problems.append("initial_option is not one of the options")
    elif kind == "radio_buttons":
        options = element.get("options") or []
        if not 1 <= len(options) <= 10:
            problems.append(f"radio_buttons with {len(options)} options")
        for option in options:
            if not _text_within(option.get("text"), 75) or not 1 <= len(option["value"]) <= 150:
                problems.append("bad option")
        if "initial_option" in element and element["initial_option"] not in options:
            problems.append("initial_option is not one of the options")
    else:
        problems.append(f"unexpected input element {kind}")
    return problems
