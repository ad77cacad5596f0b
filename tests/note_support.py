"""The example note the closing-the-loop tests save: it answers a question the bot refuses until
the note exists (`REFUSED_NOW`), on a sentence of the article no corpus note covers."""

from __future__ import annotations

from bot.notes.records import NoteForm

CLAIM = (
    "L'annonce a été faite à l'occasion de la visite du président de la République populaire "
    "de Chine, Xi Jinping"
)
FORM = NoteForm(
    CLAIM,
    "accurate",
    "Xi Jinping était en visite d'État en France du 24 au 26 mars 2019, à Paris et à Nice.",
    "Xi Jinping was on a state visit to France from 24 to 26 March 2019, in Paris and Nice.",
    "Élysée — state visit | https://www.elysee.fr/",
)
REFUSED_NOW = "xi etait a paris et nice ?"  # refused until that note exists
