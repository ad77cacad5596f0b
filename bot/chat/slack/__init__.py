"""Slack: the slack_bolt app, its commands, Block Kit rendering, the feedback and notes UI.

The only package besides `bot.chat.discord` that may import a chat library (slack_bolt,
slack_sdk). May import every core package and `bot.chat`; never `bot.chat.discord`.
"""
