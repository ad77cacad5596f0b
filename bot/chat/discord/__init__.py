"""Discord: the client, its commands and checks, rendering, the feedback and notes UI.

The only package besides `bot.chat.slack` that may import a chat library (discord.py). May
import every core package and `bot.chat`; never `bot.chat.slack`.
"""
