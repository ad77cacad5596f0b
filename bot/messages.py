"""The message catalogue: every user-facing string, per language, one wording for every platform.

Adapters (console, Discord, Slack) and the core look strings up here by key with `text()`; none
writes user-facing wording of its own. Keys are grouped by who uses them.
"""

from __future__ import annotations

from bot.answer import Language

CATALOGUE: dict[str, dict[Language, str]] = {
    # ---------------------------------------------------------------- answers and notes (rendering)
    # ---------------------------------------------------------------- chat flow (intake, cooldown,
    # permissions, errors)
    "refusal.empty": {
        "en": "Please type a question (the message was empty).",
        "fr": "Merci d'écrire une question (le message était vide).",
    },
    "refusal.too_long": {
        "en": "That question is {length} characters long; the limit is {limit}. Please shorten it.",
        "fr": "Cette question fait {length} caractères ; la limite est de {limit}. Merci de la "
        "raccourcir.",
    },
    "refusal.rate_limited": {
        "en": "You're asking quickly — please wait {seconds} s before the next question. Thanks!",
        "fr": "Vous posez vos questions très vite — merci d'attendre {seconds} s avant la "
        "suivante.",
    },
    "error.sorry": {
        "en": "Sorry — something went wrong while answering. It has been logged; please try "
        "again later.",
        "fr": "Désolé — une erreur s'est produite pendant la réponse. Elle a été consignée ; "
        "merci de réessayer plus tard.",
    },
    "command.guild_only": {
        "en": "This command only works in a server.",
        "fr": "Cette commande ne fonctionne que dans un serveur.",
    },
    "command.not_allowed": {
        "en": "You can't use this command here.",
        "fr": "Vous ne pouvez pas utiliser cette commande ici.",
    },
    "command.out_of_date": {
        "en": "This command is out of date; try again in a minute.",
        "fr": "Cette commande n'est plus à jour ; réessayez dans une minute.",
    },
    "reindex.not_moderator": {
        "en": "Only moderators can rebuild the index ({who}).",
        "fr": "Seuls les modérateurs peuvent reconstruire l'index ({who}).",
    },
    "reindex.moderators.discord": {
        "en": "Manage Server permission or a moderator role",
        "fr": "permission Gérer le serveur ou rôle de modérateur",
    },
    "reindex.moderators.slack": {
        "en": "workspace admins and owners, or the users listed in SLACK_MODERATOR_IDS",
        "fr": "administrateurs et propriétaires de l'espace de travail, ou utilisateurs listés "
        "dans SLACK_MODERATOR_IDS",
    },
    "reindex.rebuilding": {
        "en": "Rebuilding the index. Questions keep being answered from the current one "
        "meanwhile; I'll report here when it is done.",
        "fr": "Reconstruction de l'index. Les questions reçoivent toujours une réponse depuis "
        "l'index actuel en attendant ; je préviendrai ici quand ce sera fait.",
    },
    "console.loading": {
        "en": "factbot: loading the model and the index…",
        "fr": "factbot : chargement du modèle et de l'index…",
    },
    "console.ready": {
        "en": "factbot ready (index {version}). Type /help for commands.",
        "fr": "factbot est prêt (index {version}). Tapez /help pour les commandes.",
    },
    "console.help": {
        "en": "Ask about the article in French or English. Commands:\n"
        "  /factcheck [topic]  the fact-check notes, or those matching a topic\n"
        "  /sources            what the bot knows: documents, notes, index version\n"
        "  /reindex            rebuild the index from the corpus\n"
        "  /quit               leave (or Ctrl-D)",
        "fr": "Posez vos questions sur l'article en français ou en anglais. Commandes :\n"
        "  /factcheck [sujet]  les notes de vérification, ou celles sur un sujet\n"
        "  /sources            ce que le bot connaît : documents, notes, version de l'index\n"
        "  /reindex            reconstruire l'index depuis le corpus\n"
        "  /quit               quitter (ou Ctrl-D)",
    },
    "console.sources": {
        "en": "documents: {documents}\nnotes: {notes}\nindex: {version} ({chunks} chunks, "
        "built {built_at})\nmodel: {model}",
        "fr": "documents : {documents}\nnotes : {notes}\nindex : {version} ({chunks} passages, "
        "construit le {built_at})\nmodèle : {model}",
    },
    "console.no_notes": {
        "en": "No fact-check note matches that topic.",
        "fr": "Aucune note de vérification ne correspond à ce sujet.",
    },
    "console.reindexed": {
        "en": "Reindexed: {version}, {chunks} chunks ({changes})",
        "fr": "Index reconstruit : {version}, {chunks} passages ({changes})",
    },
    "console.reindex_failed": {
        "en": "Reindex failed; still serving the previous index:",
        "fr": "La reconstruction a échoué ; l'index précédent reste en service :",
    },
}


def text(key: str, language: Language, **values: object) -> str:
    """The catalogue string `key` in `language`, formatted with `values`."""
    template = CATALOGUE[key][language]
    return template.format(**values) if values else template
