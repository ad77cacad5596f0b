"""The message catalogue: every user-facing string, per language, one wording for every platform.

Adapters (console, Discord, Slack) and the core look strings up here by key with `text()`; none
writes user-facing wording of its own. Keys are grouped by who uses them.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.answer import Language, Lead

CATALOGUE: dict[str, dict[Language, str]] = {
    # ---------------------------------------------------------------- answers and notes (rendering)
    # Answers: the plain text (console, JSON `answer`), Discord embeds and Slack blocks.
    "answer.article": {"fr": "D'après l'article", "en": "From the article"},
    "answer.factcheck": {"fr": "Vérification", "en": "Fact-check"},
    "answer.true": {"fr": "Ce qui est vrai", "en": "What is true"},
    "answer.claim": {"fr": "Affirmation", "en": "Claim"},
    "answer.from_note": {"fr": "D'après une note de vérification", "en": "From a fact-check note"},
    "answer.asked": {"fr": "a demandé", "en": "asked"},
    "answer.refusal": {
        "fr": "L'article ne traite pas de cette question, et aucune note de vérification ne la "
        "couvre.",
        "en": "The article doesn't cover that, and none of the fact-check notes does either.",
    },
    "answer.not_covered": {"fr": "Pas couvert par l'article", "en": "Not covered by the article"},
    "answer.refused_hint": {
        "fr": "Essayez /factcheck pour parcourir les notes de vérification.",
        "en": "Try /factcheck to browse the fact-check notes.",
    },
    "answer.footer": {
        "fr": "Citations exactes de l'article · notes de vérification de factbot",
        "en": "Verbatim quotes from the article · fact-check notes by factbot",
    },
    # Where every warning verdict shares one mark (Discord), the footer says what it means.
    "answer.warning_legend": {
        "fr": "{mark} = l'article se trompe ou a vieilli",
        "en": "{mark} = the article is wrong or outdated",
    },
    "answer.index": {"fr": "index {version}", "en": "index {version}"},
    # ---------------------------------------------------------------- the article (issue 22)
    # The verdict scorecard ("17 claims checked: 4 inaccurate, 5 misleading, …"): one word per
    # verdict, singular and plural (`scorecard_line`).
    "scorecard.line": {
        "fr": "{n} affirmations vérifiées : {counts}",
        "en": "{n} claims checked: {counts}",
    },
    "scorecard.inaccurate": {"fr": "inexacte|inexactes", "en": "inaccurate|inaccurate"},
    "scorecard.misleading": {"fr": "trompeuse|trompeuses", "en": "misleading|misleading"},
    "scorecard.outdated": {"fr": "dépassée|dépassées", "en": "outdated|outdated"},
    "scorecard.unverifiable": {
        "fr": "invérifiable|invérifiables",
        "en": "unverifiable|unverifiable",
    },
    "scorecard.opinion": {"fr": "opinion|opinions", "en": "opinion|opinions"},
    "scorecard.mostly-accurate": {
        "fr": "plutôt exacte|plutôt exactes",
        "en": "mostly accurate|mostly accurate",
    },
    "scorecard.accurate": {"fr": "exacte|exactes", "en": "accurate|accurate"},
    "card.title": {"fr": "L'article", "en": "The article"},
    "card.outlet": {"fr": "Source", "en": "Outlet"},
    "card.published": {"fr": "Publié", "en": "Published"},
    "card.link": {"fr": "Lien", "en": "Link"},
    "card.language": {"fr": "Langue", "en": "Language"},
    "card.summary": {"fr": "Résumé", "en": "Summary"},
    "card.headline": {"fr": "Titre", "en": "Headline"},
    "card.headline_line": {"fr": "Titre : « {title} »", "en": "Headline: “{title}”"},
    "language.fr": {"fr": "français", "en": "French"},
    "language.en": {"fr": "anglais", "en": "English"},
    "lead.from_summary": {"fr": "résumé de l'article", "en": "summary of the article"},
    "lead.from_about": {"fr": "fiche de l'article", "en": "the article's details"},
    # The lead of an about answer: built from the article's front matter.
    "about.lead": {
        "fr": "« {title} », publié le {published} par {outlet} (en {in_language}) : {url}",
        "en": "“{title}”, published {published} by {outlet} (in {in_language}): {url}",
    },
    "gist.no_summary": {
        "fr": "L'article n'a pas encore de résumé ; son titre :",
        "en": "The article has no summary yet; its headline:",
    },
    "reliability.intro": {
        "fr": "À lire avec prudence : des affirmations de l'article sont inexactes, trompeuses "
        "ou dépassées.",
        "en": "Read it with care: some of the article's claims are inaccurate, misleading or "
        "outdated.",
    },
    "reliability.sound": {
        "fr": "Aucune note ne signale d'erreur dans l'article.",
        "en": "No note flags a mistake in the article.",
    },
    "reliability.more": {
        "fr": "Toutes les notes : /factcheck",
        "en": "Every note: /factcheck",
    },
    # Conversation replies: no quotes, no notes. {title} is the article's headline.
    "reply.greeting": {
        "fr": "Bonjour ! Je réponds aux questions sur l'article « {title} », en citant le texte "
        "et en signalant ce qu'il a de faux. Posez votre question, ou tapez /help.",
        "en": "Hi! I answer questions about the article “{title}”, quoting it and flagging what "
        "it gets wrong. Ask away, or type /help.",
    },
    "reply.thanks": {
        "fr": "Avec plaisir ! D'autres questions sur l'article ?",
        "en": "You're welcome! Anything else about the article?",
    },
    "reply.help": {
        "fr": "Je suis factbot : je réponds aux questions sur l'article « {title} » ({outlet}, "
        "{published}), en français ou en anglais, en citant le texte mot pour mot et en "
        "signalant ce qu'il a d'inexact ou de dépassé, avec des notes de vérification sourcées.\n"
        "{commands}",
        "en": "I'm factbot: I answer questions about the article “{title}” ({outlet}, "
        "{published}), in French or English, quoting it verbatim and flagging what it gets "
        "wrong or what is outdated, with sourced fact-check notes.\n{commands}",
    },
    "reply.help_commands": {
        "fr": "Demandez par exemple « de quoi parle l'article ? », « c'est fiable ? », « qui l'a "
        "publié ? », ou une question précise. Commandes : /ask (poser une question), /factcheck "
        "[sujet] (les notes de vérification), /sources (ce que je connais), /about (la fiche de "
        "l'article), /help (cette aide).",
        "en": "Try “what is the article about?”, “is it reliable?”, “who published it?”, or a "
        "precise question. Commands: /ask (ask a question), /factcheck [topic] (the fact-check "
        "notes), /sources (what I know), /about (the article's card), /help (this help).",
    },
    "reply.help_console": {
        "fr": "Demandez par exemple « de quoi parle l'article ? », « c'est fiable ? », « qui l'a "
        "publié ? », ou une question précise. Commandes de la console : /factcheck [sujet], "
        "/sources, /about, /reindex, /new, /help, /quit.",
        "en": "Try “what is the article about?”, “is it reliable?”, “who published it?”, or a "
        "precise question. Console commands: /factcheck [topic], /sources, /about, /reindex, "
        "/new, /help, /quit.",
    },
    "reply.feedback": {
        "fr": "Merci de le signaler : c'est noté comme un 👎 sur ma réponse précédente, avec "
        "votre message, pour que les modérateurs la revoient.",
        "en": "Thanks for telling me: it's recorded as a 👎 on my previous answer, with your "
        "message, for the moderators to review.",
    },
    "reply.feedback_unlinked": {
        "fr": "Merci de le signaler. Pour que les modérateurs le voient, utilisez le bouton 👎 "
        "sous la réponse concernée.",
        "en": "Thanks for telling me. For the moderators to see it, use the 👎 button under "
        "the answer concerned.",
    },
    "multi.part": {"fr": "{n}. {question}", "en": "{n}. {question}"},
    # ---------------------------------------------------------------- lead
    # The sentence that best answers the question, shown first, with where it comes from.
    "lead.title": {"fr": "En bref", "en": "In short"},
    "lead.from_article": {"fr": "article, §{paragraph}", "en": "article, §{paragraph}"},
    "lead.from_note": {"fr": "vérification : {label}", "en": "fact-check: {label}"},
    "answer.thread": {"fr": "Question", "en": "Question"},
    "more_not_shown": {"fr": "{n} de plus, non affichés", "en": "{n} more not shown"},
    "and_more": {"fr": "… et {n} de plus", "en": "… and {n} more"},
    # /factcheck
    "notes.title": {"fr": "Notes de vérification ({n})", "en": "Fact-check notes ({n})"},
    "notes.topic": {"fr": "Notes sur « {topic} »", "en": "Notes about “{topic}”"},
    "notes.none": {
        "fr": "Aucune note de vérification ne correspond à ce sujet.",
        "en": "No fact-check note matches that topic.",
    },
    "notes.browse_all": {
        "fr": "Essayez /factcheck sans sujet pour voir toutes les notes.",
        "en": "Try /factcheck with no topic for all notes.",
    },
    "notes.more": {
        "fr": "{n} autres notes non affichées : précisez avec /factcheck sujet",
        "en": "{n} more notes not shown: narrow it down with /factcheck topic",
    },
    "notes.page": {"fr": "page {i}/{n}", "en": "page {i}/{n}"},
    # /sources
    "sources.title": {"fr": "Sources", "en": "Sources"},
    "sources.documents": {"fr": "Documents", "en": "Documents"},
    "sources.no_documents": {"fr": "Aucun document indexé.", "en": "No document is indexed."},
    "sources.notes": {"fr": "Notes de vérification", "en": "Fact-check notes"},
    "sources.passages": {"fr": "Passages indexés", "en": "Passages indexed"},
    "sources.version": {"fr": "Version de l'index", "en": "Index version"},
    "sources.model": {"fr": "Modèle d'embedding", "en": "Embedding model"},
    "sources.built": {"fr": "Construit le", "en": "Built"},
    "sources.summary": {
        "fr": "Sources : {documents} documents, {notes} notes de vérification",
        "en": "Sources: {documents} documents, {notes} fact-check notes",
    },
    # /reindex (moderators)
    "reindex.done": {  # `report` is a bot.answering.status.ReindexReport
        "fr": "Index reconstruit en {report.seconds:.1f} s : {report.chunk_count} passages "
        "(version `{report.previous_version}` → `{report.version}`).",
        "en": "Index rebuilt in {report.seconds:.1f} s: {report.chunk_count} chunks "
        "(version `{report.previous_version}` → `{report.version}`).",
    },
    "reindex.joined": {
        "fr": "Votre demande a rejoint une reconstruction déjà en cours.",
        "en": "Your request joined a rebuild that was already running.",
    },
    "reindex.changes": {"fr": "Changements :", "en": "Changes:"},
    "reindex.no_change": {"fr": "aucun changement de contenu", "en": "no content change"},
    "reindex.failed": {
        "fr": "Échec de la reconstruction : l'index précédent (`{version}`) reste en service.\n"
        "Corrigez le corpus et relancez /reindex :",
        "en": "Rebuild failed: the previous index (`{version}`) keeps serving.\n"
        "Fix the corpus and run /reindex again:",
    },
    # What a rebuild changed (bot/answering/changes.py renders its events with these)
    "changes.document_added": {"fr": "document ajouté : {id}", "en": "document added: {id}"},
    "changes.document_changed": {"fr": "document modifié : {id}", "en": "document changed: {id}"},
    "changes.note_added": {"fr": "notes ajoutées : {ids}", "en": "notes added: {ids}"},
    "changes.note_removed": {"fr": "notes retirées : {ids}", "en": "notes removed: {ids}"},
    "changes.note_changed": {"fr": "notes modifiées : {ids}", "en": "notes changed: {ids}"},
    "changes.verdict": {
        "fr": "verdict de {id} : {old} → {new}",
        "en": "verdict of {id}: {old} → {new}",
    },
    "changes.chunks": {"fr": "passages : {old} → {new}", "en": "chunks: {old} → {new}"},
    "reindex.no_detail": {"fr": "(aucun détail fourni)", "en": "(no details were reported)"},
    # ---------------------------------------------------------------- near misses (bot/answering/focus.py)
    "near_miss.subject": {
        "fr": "L'article ne parle pas de {subject}.",
        "en": "The article does not cover {subject}.",
    },
    "near_miss.fact": {
        "fr": "L'article et ses vérifications ne donnent pas {what}.",
        "en": "The article and its fact-checks do not give {what}.",
    },
    "near_miss.fact_of": {
        "fr": "L'article et ses vérifications ne donnent pas {what} de {subject}.",
        "en": "The article and its fact-checks do not give {what} of {subject}.",
    },
    "near_miss.fact.age": {"fr": "l'âge", "en": "the age"},
    "near_miss.fact.birth": {"fr": "la naissance", "en": "the birth"},
    "near_miss.fact.cost": {"fr": "le coût", "en": "the cost"},
    "near_miss.fact.population": {"fr": "la population", "en": "the population"},
    "near_miss.fact.weather": {"fr": "la météo", "en": "the weather"},
    "near_miss.fact.headcount": {"fr": "le nombre de personnes", "en": "the number of people"},
    "near_miss.fact.live": {"fr": "la situation du moment", "en": "the current situation"},
    "near_miss.fact.date": {"fr": "la date", "en": "the date"},
    "near_miss.fact.quantity": {"fr": "ce chiffre", "en": "that figure"},
    "near_miss.fact.duration": {"fr": "la durée", "en": "the duration"},
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
    "refusal.closing": {
        "en": "factbot is restarting — please ask again in a minute.",
        "fr": "factbot redémarre — merci de reposer la question dans une minute.",
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
    "note.not_moderator": {
        "en": "Only moderators can read or change the fact-check notes from chat ({who}).",
        "fr": "Seuls les modérateurs peuvent lire ou modifier les notes de vérification depuis "
        "le chat ({who}).",
    },
    "reindex.moderators.discord": {
        "en": "a moderator role, Manage Server in one of the bot operator's servers, or a user "
        "the operator named",
        "fr": "rôle de modérateur, permission Gérer le serveur sur l'un des serveurs de "
        "l'opérateur du bot, ou utilisateur désigné par l'opérateur",
    },
    # Moderation with no moderator configured (Discord), and the moderators' cooldown.
    "moderation.disabled": {
        "en": "Moderation is not set up for this bot: its operator enables it by naming the "
        "moderators (MODERATOR_ROLE_IDS, MODERATOR_GUILD_IDS or DISCORD_MODERATOR_USER_IDS).",
        "fr": "La modération n'est pas configurée pour ce bot : son opérateur l'active en "
        "désignant les modérateurs (MODERATOR_ROLE_IDS, MODERATOR_GUILD_IDS ou "
        "DISCORD_MODERATOR_USER_IDS).",
    },
    "moderation.too_soon": {
        "en": "Too many changes or rebuilds in a row — nothing was done; try again in {seconds} s.",
        "fr": "Trop de modifications ou de reconstructions d'affilée — rien n'a été fait ; "
        "réessayez dans {seconds} s.",
    },
    "reindex.moderators.slack": {
        "en": "admins and owners of the bot's own workspace, or the users listed in "
        "SLACK_MODERATOR_IDS",
        "fr": "administrateurs et propriétaires de l'espace de travail du bot, ou utilisateurs "
        "listés dans SLACK_MODERATOR_IDS",
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
        "  /about              the article: title, outlet, date, link, summary, verdicts\n"
        "  /reindex            rebuild the index from the corpus\n"
        "  /new                a new conversation (follow-ups forget the earlier questions)\n"
        "  /quit               leave (or Ctrl-D)",
        "fr": "Posez vos questions sur l'article en français ou en anglais. Commandes :\n"
        "  /factcheck [sujet]  les notes de vérification, ou celles sur un sujet\n"
        "  /sources            ce que le bot connaît : documents, notes, version de l'index\n"
        "  /about              l'article : titre, source, date, lien, résumé, verdicts\n"
        "  /reindex            reconstruire l'index depuis le corpus\n"
        "  /new                nouvelle conversation (les questions précédentes sont oubliées)\n"
        "  /quit               quitter (ou Ctrl-D)",
    },
    "console.new": {
        "en": "New conversation: follow-up questions start afresh.",
        "fr": "Nouvelle conversation : les questions de suivi repartent de zéro.",
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
    # ---------------------------------------------------------------- feedback and report
    # 👍/👎 under every answer (Discord buttons, Slack Block Kit), their private replies, the 👎
    # reason modal, and the moderators' /unanswered report.
    "feedback.helpful": {"fr": "Réponse utile", "en": "Helpful answer"},
    "feedback.not_helpful": {"fr": "Réponse pas utile", "en": "Not a helpful answer"},
    "feedback.thanks": {"fr": "Merci !", "en": "Thanks!"},
    "feedback.changed": {"fr": "Vote modifié — merci !", "en": "Vote changed — thanks!"},
    "feedback.expired": {
        "fr": "Cette réponse a expiré : on ne peut plus voter dessus. Posez la question à "
        "nouveau pour une réponse à jour.",
        "en": "This answer has expired, so it can no longer be voted on. Ask again for a fresh "
        "answer.",
    },
    "feedback.unavailable": {
        "fr": "Votre vote n'a pas pu être enregistré pour le moment — merci de réessayer plus "
        "tard.",
        "en": "Your vote couldn't be recorded right now — please try again later.",
    },
    "feedback.off": {
        "fr": "Les votes ne sont plus collectés ici.",
        "en": "Votes are no longer collected here.",
    },
    # Modal titles: at most 24 characters (Slack), 45 (Discord).
    "feedback.reason_title": {"fr": "Merci pour le 👎", "en": "Thanks for the 👎"},
    "feedback.reason_intro": {
        "fr": "Votre 👎 est enregistré. Dites-nous en un mot ce qui n'allait pas, si vous voulez.",
        "en": "Your 👎 is recorded. Tell us briefly what was wrong, if you like.",
    },
    "feedback.reason_label": {  # at most 45 characters (Discord)
        "fr": "Qu'est-ce qui n'allait pas ? (facultatif)",
        "en": "What was wrong? (optional)",
    },
    "feedback.reason_placeholder": {  # at most 100 characters
        "fr": "Ex. : la date est fausse, la réponse passe à côté de la question…",
        "en": "e.g. the date is wrong, the answer misses the question…",
    },
    "feedback.reason_submit": {"fr": "Envoyer", "en": "Send"},
    "feedback.reason_close": {"fr": "Passer", "en": "Skip"},
    # Under a reply to feedback in words: opens the 👎 reason form (button text: at most 75).
    "feedback.reason_open": {"fr": "Dire ce qui n'allait pas", "en": "Say what was wrong"},
    # ---------------------------------------------------------------- /about and /help (chat)
    # Discord's slash commands in French (bot/chat/discord/translator.py): the English as the
    # code declares it (name, description, option), and what a French Discord shows instead.
    "discord.command.ask": {"en": "ask", "fr": "demander"},
    "discord.command.ask.description": {
        "en": "Ask about the article: quotes and fact-checks",
        "fr": "Une question sur l'article : citations et vérifications",
    },
    "discord.command.ask.question": {"en": "question", "fr": "question"},
    "discord.command.ask.question.description": {
        "en": "Your question, in French or English",
        "fr": "Votre question, en français ou en anglais",
    },
    "discord.command.factcheck": {"en": "factcheck", "fr": "vérifications"},
    "discord.command.factcheck.description": {
        "en": "The fact-check notes on the article",
        "fr": "Les notes de vérification de l'article",
    },
    "discord.command.factcheck.topic": {"en": "topic", "fr": "sujet"},
    "discord.command.factcheck.topic.description": {
        "en": "Only the notes about this (optional)",
        "fr": "Seulement les notes sur ce sujet (facultatif)",
    },
    "discord.command.sources": {"en": "sources", "fr": "sources"},
    "discord.command.sources.description": {
        "en": "What factbot knows: documents and index",
        "fr": "Ce que factbot connaît : documents et index",
    },
    "discord.command.reindex": {"en": "reindex", "fr": "réindexer"},
    "discord.command.reindex.description": {
        "en": "Moderators: rebuild the index",
        "fr": "Modérateurs : reconstruire l'index",
    },
    "discord.command.unanswered": {"en": "unanswered", "fr": "sans-réponse"},
    "discord.command.unanswered.description": {
        "en": "Moderators: questions not answered, answers voted down",
        "fr": "Modérateurs : questions sans réponse, réponses jugées inutiles",
    },
    "discord.command.unanswered.days": {"en": "days", "fr": "jours"},
    "discord.command.unanswered.days.description": {
        "en": "The last N days (default 7)",
        "fr": "Les N derniers jours (7 par défaut)",
    },
    "discord.command.note": {"en": "note", "fr": "note"},
    "discord.command.note.description": {
        "en": "Moderators: write and fix the fact-check notes",
        "fr": "Modérateurs : écrire et corriger les notes de vérification",
    },
    "discord.command.note.add": {"en": "add", "fr": "ajouter"},
    "discord.command.note.add.description": {
        "en": "Write a new fact-check note (opens a form)",
        "fr": "Écrire une nouvelle note de vérification (ouvre un formulaire)",
    },
    "discord.command.note.edit": {"en": "edit", "fr": "modifier"},
    "discord.command.note.edit.description": {
        "en": "Fix a note (opens the form filled in)",
        "fr": "Corriger une note (ouvre le formulaire rempli)",
    },
    "discord.command.note.remove": {"en": "remove", "fr": "retirer"},
    "discord.command.note.remove.description": {
        "en": "Remove a note (asks first)",
        "fr": "Retirer une note (demande confirmation)",
    },
    "discord.command.note.show": {"en": "show", "fr": "voir"},
    "discord.command.note.show.description": {
        "en": "A note as readers get it, and where it comes from",
        "fr": "Une note telle que les lecteurs la voient, et d'où elle vient",
    },
    "discord.command.note.history": {"en": "history", "fr": "historique"},
    "discord.command.note.history.description": {
        "en": "Every change made to a note, by whom and when",
        "fr": "Chaque modification d'une note, par qui et quand",
    },
    "discord.command.note.id": {"en": "id", "fr": "id"},
    "discord.command.note.id.description": {
        "en": "The note's id",
        "fr": "L'identifiant de la note",
    },
    "discord.command.note.revision": {"en": "revision", "fr": "révision"},
    "discord.command.note.revision.description": {
        "en": "Restore this earlier revision (see /note history)",
        "fr": "Rétablir cette révision antérieure (voir /note historique)",
    },
    "discord.command.privacy": {"en": "privacy", "fr": "confidentialité"},
    "discord.command.privacy.description": {
        "en": "What factbot keeps about you, and erase it",
        "fr": "Ce que factbot garde sur vous, et l'effacer",
    },
    "discord.command.about": {"en": "about", "fr": "à-propos"},
    "discord.command.about.description": {
        "en": "The article: headline, outlet, date, link, summary, scorecard",
        "fr": "L'article : titre, source, date, lien, résumé, bilan des vérifications",
    },
    "discord.command.help": {"en": "help", "fr": "aide"},
    "discord.command.help.description": {
        "en": "What factbot does, and its commands",
        "fr": "Ce que fait factbot, et ses commandes",
    },
    "about.unavailable": {
        "fr": "La fiche de l'article n'est pas disponible pour le moment.",
        "en": "The article's card is not available right now.",
    },
    "help.moderators": {
        "fr": "Modérateurs : /note (les notes de vérification), /reindex (reconstruire l'index), "
        "/unanswered (les questions sans réponse).",
        "en": "Moderators: /note (the fact-check notes), /reindex (rebuild the index), "
        "/unanswered (the questions not answered).",
    },
    "help.privacy": {
        "fr": "/privacy : ce que je garde sur vous, et l'effacer.",
        "en": "/privacy: what I keep about you, and erase it.",
    },
    "report.title": {
        "fr": "Questions des {days} derniers jours",
        "en": "Questions from the last {days} day(s)",
    },
    "report.totals": {
        "fr": "{questions} questions : {answered} avec réponse, {refused} sans réponse, "
        "{rejected} rejetées",
        "en": "{questions} questions: {answered} answered, {refused} refused, {rejected} rejected",
    },
    "report.votes": {"fr": "Avis : 👍 {up} · 👎 {down}", "en": "Feedback: 👍 {up} · 👎 {down}"},
    "report.by_language": {"fr": "Par langue : {languages}", "en": "By language: {languages}"},
    "report.language": {
        "fr": "{lang} {questions} ({answered} avec réponse, {refused} sans)",
        "en": "{lang} {questions} ({answered} answered, {refused} refused)",
    },
    "report.refused": {
        "fr": "Questions sans réponse : {n} en {groups} groupe(s)",
        "en": "Unanswered questions: {n} in {groups} group(s)",
    },
    "report.downvoted": {
        "fr": "Réponses jugées inutiles : {n} en {groups} groupe(s)",
        "en": "Answers voted down: {n} in {groups} group(s)",
    },
    "report.refused_none": {
        "fr": "Questions sans réponse : aucune",
        "en": "Unanswered questions: none",
    },
    "report.downvoted_none": {
        "fr": "Réponses jugées inutiles : aucune",
        "en": "Answers voted down: none",
    },
    "report.hint": {
        "fr": "Les plus fréquentes d'abord. Une question qui revient mérite une note de "
        "vérification : /note add.",
        "en": "Most frequent first. A question that keeps coming back deserves a fact-check "
        "note: /note add.",
    },
    "report.loop": {
        "fr": "Suivi : {subscriptions} abonnement(s), {later} question(s) répondue(s) plus tard, "
        "{corrections} correction(s) envoyée(s), {open} demande(s) aux modérateurs ouverte(s)",
        "en": "Follow-up: {subscriptions} subscription(s), {later} question(s) answered later, "
        "{corrections} correction(s) sent, {open} moderator request(s) open",
    },
    "report.loop_median": {
        "fr": "Délai médian de résolution des demandes : {hours} h",
        "en": "Median time to resolve a request: {hours} h",
    },
    # ---------------------------------------------------------------- closing the loop
    # A correction posted in the thread of an earlier answer (one message for a burst of notes).
    "loop.correction.title": {
        "fr": "Correction : une note de vérification a changé depuis cette réponse.",
        "en": "Correction: a fact-check note changed since this answer.",
    },
    "loop.correction.added": {
        "fr": "Nouvelle note sur « {claim} » : {verdict}",
        "en": "New note on “{claim}”: {verdict}",
    },
    "loop.correction.verdict": {
        "fr": "« {claim} » : {old} → {new}",
        "en": "“{claim}”: {old} → {new}",
    },
    "loop.correction.edited": {
        "fr": "« {claim} » : note mise à jour ({verdict})",
        "en": "“{claim}”: note updated ({verdict})",
    },
    "loop.correction.removed": {
        "fr": "« {claim} » : la note ({verdict}) a été retirée",
        "en": "“{claim}”: the note ({verdict}) was withdrawn",
    },
    # A subscribed question that a new note now answers.
    "loop.answered.title": {
        "fr": "Un modérateur a ajouté une note : votre question a maintenant une réponse.",
        "en": "A moderator added a note: your question now has an answer.",
    },
    "loop.answered.question": {
        "fr": "Vous aviez demandé : « {question} »",
        "en": "You asked: “{question}”",
    },
    # The buttons and replies the adapters show (next step).
    "loop.subscribe_button": {
        "fr": "🔔 Me prévenir quand il y aura une réponse",
        "en": "🔔 Tell me when it's answered",
    },
    "loop.subscribed": {
        "fr": "C'est noté : vous serez prévenu ici si une note y répond dans les {days} jours.",
        "en": "Done: you'll be told here if a note answers it within {days} days.",
    },
    "loop.already_subscribed": {
        "fr": "Vous êtes déjà abonné à cette question.",
        "en": "You are already subscribed to this question.",
    },
    "loop.handoff_button": {"fr": "Demander à un modérateur", "en": "Ask a moderator"},
    "loop.handoff_sent": {
        "fr": "Votre question a été transmise aux modérateurs ; vous serez prévenu ici.",
        "en": "Your question was passed to the moderators; you'll be told here.",
    },
    "loop.unavailable": {
        "fr": "Impossible pour le moment : réessayez plus tard.",
        "en": "Not possible right now: please try again later.",
    },
    "loop.unknown_answer": {
        "fr": "Cette réponse n'est plus connue (trop ancienne ou effacée).",
        "en": "This answer is no longer known (too old, or erased).",
    },
    # The request in the moderators' channel, and what "Mark resolved" says.
    "loop.request.title": {
        "fr": "Un membre demande l'aide d'un modérateur :",
        "en": "A member asks a moderator for help:",
    },
    "loop.request.context": {
        "fr": "Plus tôt dans le fil :",
        "en": "Earlier in the thread:",
    },
    "loop.resolved": {
        "fr": "Un modérateur a traité votre question « {question} ».",
        "en": "A moderator has dealt with your question “{question}”.",
    },
    "loop.resolved_by": {
        "fr": "Résolu par {name}.",
        "en": "Resolved by {name}.",
    },
    "loop.already_resolved": {
        "fr": "Cette demande est déjà résolue.",
        "en": "This request is already resolved.",
    },
    "loop.write_note": {"fr": "Écrire une note", "en": "Write a note"},
    "loop.mark_resolved": {"fr": "Marquer comme résolu", "en": "Mark resolved"},
    # The note form and the save report.
    "loop.notify_label": {
        "fr": "Prévenir les fils et les abonnés ?",
        "en": "Tell the threads and subscribers?",
    },
    "loop.notify_choice": {"fr": "Prévenir (par défaut)", "en": "Notify (default)"},
    "loop.silent_choice": {"fr": "Silencieux (coquille)", "en": "Silent (a typo fix)"},
    "loop.would_tell": {
        "fr": "À prévenir : {threads} fil(s) et {subscribers} abonné(s).",
        "en": "Would tell: {threads} thread(s) and {subscribers} subscriber(s).",
    },
    "loop.told": {
        "fr": "Prévenus : {threads} fil(s) et {subscribers} abonné(s).",
        "en": "Told: {threads} thread(s) and {subscribers} subscriber(s).",
    },
    # ---------------------------------------------------------------- /note (moderators)
    # The form: the same five fields on Discord and Slack.
    "note.form.add": {"fr": "Nouvelle note de vérification", "en": "New fact-check note"},
    "note.form.edit": {"fr": "Modifier {note_id}", "en": "Edit {note_id}"},
    "note.form.submit": {"fr": "Enregistrer", "en": "Save"},
    "note.form.cancel": {"fr": "Annuler", "en": "Cancel"},
    "note.field.claim": {"fr": "Affirmation (citation exacte)", "en": "Claim (exact quote)"},
    "note.field.verdict": {"fr": "Verdict", "en": "Verdict"},
    "note.field.fr": {"fr": "Ce qui est vrai (français)", "en": "What is true (French)"},
    "note.field.en": {"fr": "Ce qui est vrai (anglais)", "en": "What is true (English)"},
    "note.field.sources": {"fr": "Sources", "en": "Sources"},
    "note.hint.claim": {
        "fr": "Copiez la phrase de l'article mot pour mot",
        "en": "Copy the article's words exactly (it is in French)",
    },
    "note.hint.verdict": {"fr": "Choisissez un verdict", "en": "Choose a verdict"},
    "note.hint.fr": {
        "fr": "Ce qui est vrai, en français, avec dates et chiffres",
        "en": "What is true, in French, with dates and figures",
    },
    "note.hint.en": {
        "fr": "Ce qui est vrai, en anglais",
        "en": "What is true, in English, with dates and figures",
    },
    "note.hint.sources": {
        "fr": "Une par ligne : titre | https://…",
        "en": "One per line: title | https://…",
    },
    # Outcomes, private to the moderator.
    "note.rejected": {
        "fr": "Rien n'a été enregistré : {n} problème(s) à corriger.",
        "en": "Nothing was saved: {n} problem(s) to fix.",
    },
    "note.problem": {"fr": "• {field} : {message}", "en": "• {field}: {message}"},
    "note.problem.note": {"fr": "• {message}", "en": "• {message}"},
    "note.added": {
        "fr": "Note `{note_id}` ajoutée (révision {revision}).",
        "en": "Note `{note_id}` added (revision {revision}).",
    },
    "note.edited": {
        "fr": "Note `{note_id}` modifiée (révision {revision}).",
        "en": "Note `{note_id}` changed (revision {revision}).",
    },
    "note.removed": {
        "fr": "Note `{note_id}` retirée (révision {revision}) ; /note edit {note_id} la rétablit.",
        "en": "Note `{note_id}` removed (revision {revision}); /note edit {note_id} restores it.",
    },
    "note.verdict": {"fr": "Verdict : {label}", "en": "Verdict: {label}"},
    "note.claim": {"fr": "Affirmation : « {claim} »", "en": "Claim: “{claim}”"},
    "note.index": {
        "fr": "Index reconstruit : {old} → {new}",
        "en": "Index rebuilt: {old} → {new}",
    },
    "note.changes": {"fr": "Changements : {changes}", "en": "Changes: {changes}"},
    "note.sample": {
        "fr": "Exemple de question à laquelle elle répond maintenant : « {question} »",
        "en": "A question it now answers: “{question}”",
    },
    "note.no_sample": {
        "fr": "Aucune question d'exemple trouvée : vérifiez avec /ask.",
        "en": "No sample question found: check with /ask.",
    },
    "note.rebuild_failed": {
        "fr": "Enregistrée, mais l'index n'a pas pu être reconstruit ; l'index {version} sert "
        "toujours :",
        "en": "Saved, but the index could not be rebuilt; index {version} keeps serving:",
    },
    "note.unknown": {
        "fr": "Aucune note `{note_id}`. /factcheck liste les notes.",
        "en": "No note `{note_id}`. /factcheck lists the notes.",
    },
    "note.unavailable": {
        "fr": "Impossible de lire ou d'enregistrer les notes pour le moment (base de données "
        "injoignable) — rien n'a été modifié ; réessayez plus tard.",
        "en": "Can't read or save notes right now (the database is unreachable) — nothing was "
        "changed; try again later.",
    },
    "note.bad_revision": {
        "fr": "La révision doit être un nombre (chiffres 0-9), par exemple : /note edit {note_id} 2",
        "en": "The revision must be a number (digits 0-9), for example: /note edit {note_id} 2",
    },
    "note.usage": {
        "fr": "Usage : /note add | edit <id> [révision] | remove <id> | show <id> | history <id>",
        "en": "Usage: /note add | edit <id> [revision] | remove <id> | show <id> | history <id>",
    },
    "note.saving": {
        "fr": "Enregistrement et reconstruction de l'index…",
        "en": "Saving and rebuilding the index…",
    },
    # Removal asks first.
    "note.confirm_remove": {
        "fr": "Retirer la note `{note_id}` (« {claim} ») ? Son historique est conservé.",
        "en": "Remove note `{note_id}` (“{claim}”)? Its history is kept.",
    },
    "note.button.remove": {"fr": "Retirer", "en": "Remove"},
    "note.button.cancel": {"fr": "Annuler", "en": "Cancel"},
    "note.button.fix": {"fr": "Corriger", "en": "Fix"},
    "note.removal_cancelled": {
        "fr": "Rien n'a été retiré.",
        "en": "Nothing was removed.",
    },
    # /note show and /note history
    "note.show.title": {"fr": "Note `{note_id}` — {label}", "en": "Note `{note_id}` — {label}"},
    "note.show.true": {"fr": "Ce qui est vrai : {text}", "en": "What is true: {text}"},
    "note.show.source": {"fr": "• {title} — {url}", "en": "• {title} — {url}"},
    "note.show.from_file": {
        "fr": "Servie depuis le fichier {path}.",
        "en": "Served from the file {path}.",
    },
    "note.show.from_chat": {
        "fr": "Servie depuis la révision {revision}, par {author} le {at}.",
        "en": "Served from revision {revision}, by {author} on {at}.",
    },
    "note.history.title": {"fr": "Historique de `{note_id}`", "en": "History of `{note_id}`"},
    "note.history.none": {
        "fr": "Jamais modifiée depuis le chat : servie depuis le fichier {path}.",
        "en": "Never changed from chat: served from the file {path}.",
    },
    "note.history.row": {
        "fr": "r{revision} · {at} · {action} par {author}{detail}",
        "en": "r{revision} · {at} · {action} by {author}{detail}",
    },
    "note.history.action.added": {"fr": "ajoutée", "en": "added"},
    "note.history.action.edited": {"fr": "modifiée", "en": "edited"},
    "note.history.action.removed": {"fr": "retirée", "en": "removed"},
    "note.history.served_chat": {
        "fr": "Servie : la révision {revision} (la plus récente).",
        "en": "Served: revision {revision} (the most recent change).",
    },
    "note.history.served_removed": {
        "fr": "Servie : aucune version (retirée à la révision {revision}).",
        "en": "Served: none (removed at revision {revision}).",
    },
    "note.history.file_wins": {
        "fr": "Servie : le fichier {path}, modifié sur disque après la dernière révision du chat "
        "(le changement le plus récent l'emporte).",
        "en": "Served: the file {path}, changed on disk after the last chat revision (the most "
        "recent change wins).",
    },
    "note.history.restore": {
        "fr": "/note edit {note_id} <révision> rouvre une ancienne version pour la rétablir.",
        "en": "/note edit {note_id} <revision> reopens an older version to restore it.",
    },
    "report.not_moderator": {
        "fr": "Seuls les modérateurs peuvent voir ce rapport ({who}).",
        "en": "Only moderators can see this report ({who}).",
    },
    "report.unavailable": {
        "fr": "Impossible de lire le journal des questions pour le moment (base de données "
        "injoignable) — réessayez plus tard.",
        "en": "Can't read the question log right now (the database is unreachable) — try again "
        "later.",
    },
    "report.disabled": {
        "fr": "Le journal des questions n'est pas activé pour ce bot.",
        "en": "The question log is not enabled for this bot.",
    },
    "report.bad_days": {
        "fr": "Usage : /unanswered [jours], avec un nombre de jours de 1 à {most}.",
        "en": "Usage: /unanswered [days], with a number of days from 1 to {most}.",
    },
    # ---------------------------------------------------------------- members' data (/privacy)
    "privacy.kept": {
        "fr": "Ce que factbot garde sur vous : {questions} question(s), {votes} vote(s) 👍/👎, "
        "{subscriptions} abonnement(s).",
        "en": "What factbot keeps about you: {questions} question(s), {votes} 👍/👎 vote(s), "
        "{subscriptions} subscription(s).",
    },
    "privacy.retention": {
        "fr": "Questions et votes sont effacés automatiquement après {days} jours.",
        "en": "Questions and votes are deleted automatically after {days} days.",
    },
    "privacy.logging_off": {
        "fr": "Ce bot n'enregistre plus les questions ; ce qui reste est effaçable ici.",
        "en": "This bot no longer logs questions; what is left can be erased here.",
    },
    "privacy.hashed": {
        "fr": "Votre identifiant n'est jamais enregistré, seulement une empreinte chiffrée "
        "(HMAC) ; les modérateurs de votre serveur voient les questions sans réponse, pas "
        "qui les a posées.",
        "en": "Your user id is never stored, only a keyed hash (HMAC); your server's "
        "moderators see unanswered questions, not who asked them.",
    },
    "privacy.notes_kept": {
        "fr": "Les {revisions} modification(s) de notes que vous avez faites comme modérateur "
        "restent signées de votre nom : c'est un travail publié.",
        "en": "The {revisions} note change(s) you made as a moderator keep your name: they are "
        "published work.",
    },
    "privacy.erase_hint": {
        "fr": "« Effacer mes données » supprime vos questions et vos votes, tout de suite et "
        "définitivement.",
        "en": "“Erase my data” deletes your questions and votes, now and for good.",
    },
    "privacy.erase_button": {"fr": "Effacer mes données", "en": "Erase my data"},
    "privacy.confirm_title": {"fr": "Tout effacer ?", "en": "Erase everything?"},
    "privacy.confirm_text": {
        "fr": "Vos questions et vos votes seront supprimés définitivement.",
        "en": "Your questions and votes will be deleted for good.",
    },
    "privacy.confirm_yes": {"fr": "Effacer", "en": "Erase"},
    "privacy.confirm_no": {"fr": "Annuler", "en": "Cancel"},
    "privacy.erased": {
        "fr": "Effacé : {questions} question(s), {votes} vote(s), {subscriptions} abonnement(s).",
        "en": "Erased: {questions} question(s), {votes} vote(s), {subscriptions} subscription(s).",
    },
    "privacy.unavailable": {
        "fr": "Impossible de lire vos données pour le moment (base de données injoignable) — "
        "réessayez plus tard.",
        "en": "Can't reach your data right now (the database is unreachable) — try again later.",
    },
    "privacy.disabled": {
        "fr": "Ce bot ne garde rien sur vous : il n'a pas de journal des questions.",
        "en": "This bot keeps nothing about you: it has no question log.",
    },
}


def text(key: str, language: Language, **values: object) -> str:
    """The catalogue string `key` in `language`, formatted with `values`."""
    template = CATALOGUE[key][language]
    return template.format(**values) if values else template


def lead_origin(lead: Lead, language: Language) -> str:
    """Where an answer's lead comes from: the article paragraph, or the note's verdict label."""
    if lead.kind == "factcheck":
        return text("lead.from_note", language, label=lead.label or "")
    if lead.kind == "summary":
        return text("lead.from_summary", language)
    if lead.kind == "about":
        return text("lead.from_about", language)
    return text("lead.from_article", language, paragraph=lead.paragraph)


def verdict_count(name: str, n: int, language: Language) -> str:
    """ "4 inexactes" / "4 inaccurate": a scorecard entry (an unknown verdict: its name)."""
    forms = CATALOGUE.get(f"scorecard.{name}")
    if forms is None:
        return f"{n} {name}"
    one, _, many = forms[language].partition("|")
    return f"{n} {one if n == 1 else many or one}"


def scorecard_line(scorecard: Sequence[tuple[str, int]], total: int, language: Language) -> str:
    """ "17 affirmations vérifiées : 4 inexactes, 5 trompeuses, …" / "17 claims checked: 4
    inaccurate, 5 misleading, …" — what the adapters show for an `ArticleCard.scorecard`."""
    counts = ", ".join(verdict_count(v, n, language) for v, n in scorecard)
    return text("scorecard.line", language, n=total, counts=counts)
