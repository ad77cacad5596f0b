"""Chat text as people type it, made readable for retrieval (issue 13, item 5).

`clean_chat` removes what is not part of the question — Discord/Slack mentions and markup, links,
emoji — and expands the common chat abbreviations of both languages ("c quoi", "qd", "cb", "pk",
"tho", "rn", "wiht") into the words the retrieval knows. `Speller` (built from a vocabulary, see
`bot/answering/focus.py`) fixes one-letter typos against it (the language is told by `bot/answering/language.py`).
Nothing here depends on a chat library or on the index.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from collections.abc import Set as AbstractSet
from typing import TypeAlias

from index.lru import Memo, MiB, memo
from index.text import fold
from index.wordset import WordSet

# Slack: <@U123>, <@U123|name>, <#C123|general>, <!here>; Discord: <@123>, <@!123>, <@&123>,
# <#123>, custom emoji <:name:123> / <a:name:123>. A Slack link <https://x|label> keeps its label.
_SLACK_LINK = re.compile(r"<(?:https?|mailto):[^>|]*\|([^>]*)>")
_ANGLE_TOKEN = re.compile(r"<(?:[@#!][^>]*|a?:\w+:\d+|(?:https?|mailto):[^>]*)>")
_URL = re.compile(r"https?://\S+")
_AT_ALL = re.compile(r"(?<!\w)@(?:everyone|here|channel)\b")
_SHORTCODE = re.compile(r"(?<!\w):[a-z0-9_+-]{2,}:(?!\w)")
_CODE_FENCE = re.compile(r"```(?:[a-z]+\n)?(.*?)```", re.DOTALL)
_MARKUP = re.compile(r"\*\*|__|~~|\|\||[*`]|(?<!\w)_|_(?!\w)")
_QUOTE_LINE = re.compile(r"^\s*>+\s?", re.MULTILINE)

# Chat abbreviations -> words (both languages; a word maps to "" when it is only filler).
# General chat usage, not fitted to any question: SMS-style French, internet English.
ABBREVIATIONS: Mapping[str, str] = {
    # French
    "koi": "quoi",
    "kwa": "quoi",
    "qd": "quand",
    "qnd": "quand",
    "kan": "quand",
    "cb": "combien",
    "cmb": "combien",
    "pk": "pourquoi",
    "pq": "pourquoi",
    "pkoi": "pourquoi",
    "pourkoi": "pourquoi",
    "tt": "tout",
    "tte": "toute",
    "ttes": "toutes",
    "tts": "tous",
    "bcp": "beaucoup",
    "ds": "dans",
    "avc": "avec",
    "pr": "pour",
    "dc": "donc",
    "mtn": "maintenant",
    "mnt": "maintenant",
    "auj": "aujourd'hui",
    "ajd": "aujourd'hui",
    "tjrs": "toujours",
    "tjs": "toujours",
    "ptet": "peut-être",
    "qqn": "quelqu'un",
    "qqch": "quelque chose",
    "jsp": "je ne sais pas",
    "matos": "matériel",
    "bosser": "travailler",
    "bosse": "travaille",
    "bossent": "travaillent",
    "bossé": "travaillé",
    "1ere": "première",
    "1ère": "première",
    "1re": "première",
    "1er": "premier",
    "2e": "deuxième",
    "2eme": "deuxième",
    "2ème": "deuxième",
    "3e": "troisième",
    "stp": "",
    "svp": "",
    "mdr": "",
    "ptdr": "",
    # English
    "u": "you",
    "r": "are",
    "ur": "your",
    "rly": "really",
    "rlly": "really",
    "smth": "something",
    "sth": "something",
    "ppl": "people",
    "rn": "right now",
    "abt": "about",
    "bc": "because",
    "cuz": "because",
    "coz": "because",
    "wat": "what",
    "wut": "what",
    "whats": "what is",
    "whos": "who is",
    "wheres": "where is",
    "whens": "when is",
    "hows": "how is",
    "yr": "year",
    "yrs": "years",
    "govt": "government",
    "approx": "approximately",
    "1st": "first",
    "2nd": "second",
    "3rd": "third",
    "n": "and",
    "w/": "with",
    "w/o": "without",
    "tho": "",
    "lol": "",
    "lmao": "",
    "btw": "",
    "pls": "",
    "plz": "",
    "omg": "",
    "tbh": "",
    "imo": "",
    "ngl": "",
    "nvm": "",
    "thx": "",
    # Frequent English typos of short words (too short for the speller's edit distance).
    "wiht": "with",
    "whit": "with",
    "teh": "the",
    "hte": "the",
    "adn": "and",
    "taht": "that",
    "waht": "what",
    "whta": "what",
    "hwo": "how",
    "wehn": "when",
    "wher": "where",
}
# "c quoi", "c qui", "c t qui": the SMS spelling of "c'est" / "c'était", only before the words
# that follow it in a question ("c" alone is too ambiguous to expand everywhere).
_C_EST = re.compile(
    r"\bc(?:\s+t\b|(?=\s+(?:quoi|koi|qui|quel|quelle|quels|quelles|quand|qd|comment|o[uù]|"
    r"combien|cb|ce|vrai|pour|le|la|les|l'|un|une|normal|possible|grave)\b))",
    re.IGNORECASE,
)
# Country abbreviations, upper case only ("us" is a pronoun).
_COUNTRIES = {"US": "United States", "USA": "United States", "UK": "United Kingdom"}
_COUNTRY = re.compile(r"(?<![\w.])(U\.?S\.?A?\.?|UK)(?![\w])")


_Tree: TypeAlias = dict[str, "_Tree"]  # a character -> what follows it ("" ends a word)


def _trie(words: Collection[str]) -> str:
    """A pattern matching any of `words`, as a tree of their common prefixes: "p(?:k(?:oi)?|q)".

    It matches what `|`.join(`words`, longest first) matches: at each step one branch at most
    can match (the words' characters are told apart case-insensitively too), and a word that
    goes on is tried before the word it extends. Without the tree, every word is tried in turn
    at every position (3x slower on a question)."""
    tree: _Tree = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: _Tree) -> str:
        branches = [re.escape(ch) + pattern(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return pattern(tree)


_ABBREVIATION = re.compile(r"(?<![\w'’])(" + _trie(ABBREVIATIONS) + r")(?![\w'’])", re.IGNORECASE)


def _is_emoji(ch: str) -> bool:
    """Pictographs, dingbats, flags, skin tones and the joiners that glue them together."""
    code = ord(ch)
    if ch in "\u200d\ufe0f\ufe0e\u20e3":
        return True
    if 0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or 0xE0020 <= code <= 0xE007F:
        return True
    return unicodedata.category(ch) == "So"


def _blank_emoji(match: re.Match[str]) -> str:
    return " " if _is_emoji(match.group()) else match.group()


# The characters `_blank_emoji` needs to see: none of ASCII or of the accented Latin letters
# (U+00C0–U+024F) is an emoji, so a French message does not call it once per accent.
_MAYBE_EMOJI = re.compile(r"[^\x00-\x7f\u00c0-\u024f]")


def _collapse_spaces(text: str) -> str:
    """Runs of white space made one space, none at either end (`\\s` is `str.isspace`)."""
    return " ".join(text.split())


def strip_markup(text: str) -> str:
    """`text` without mentions, links, emoji, code fences and Markdown emphasis (their words stay)."""
    return read_chat(text)[0]


def _strip_markup(text: str) -> str:
    # Each pattern needs its marker character: most questions hold none, and skipping a pattern
    # that cannot match is cheaper than running it (the classify rules call this too).
    if "<" in text:
        text = _SLACK_LINK.sub(r" \1 ", text)
        text = _ANGLE_TOKEN.sub(" ", text)
    if "http" in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _AT_ALL.sub(" ", text)
    if ":" in text:
        text = _SHORTCODE.sub(" ", text)
    if "```" in text:
        text = _CODE_FENCE.sub(r" \1 ", text)
    if ">" in text:
        text = _QUOTE_LINE.sub("", text)
    text = _MARKUP.sub("", text)
    if not text.isascii():  # no emoji is ASCII: only the other characters need a look
        text = _MAYBE_EMOJI.sub(_blank_emoji, text)
    return _collapse_spaces(text)


def expand_abbreviations(text: str) -> str:
    """Chat abbreviations spelled out ("c quoi" -> "c'est quoi", "qd" -> "quand", "tho" -> "")."""
    if "U" in text:  # every country abbreviation has one
        text = _COUNTRY.sub(lambda m: _COUNTRIES[m.group(1).replace(".", "")], text)
    text = _C_EST.sub(lambda m: "c'était" if m.group(0).lower().endswith("t") else "c'est", text)
    if not _may_abbreviate(text):
        return _collapse_spaces(text)
    text = _ABBREVIATION.sub(_expand, text)
    return _collapse_spaces(text)


# The word each abbreviation starts with ("w" for "w/o"): an abbreviation found is preceded by
# no word character, so its first word is a whole word of the text.
_ABBREVIATION_HEADS = frozenset(k.split("/")[0] for k in ABBREVIATIONS)
_WORD_RUN = re.compile(r"\w+")


def _may_abbreviate(text: str) -> bool:
    """False when no abbreviation can be in `text`: none of its words, lower-cased, starts one.
    Told only for Latin-1 text, where lower-casing is what the pattern's case folding does
    ("ſtp" or "\u212aoi", beyond it, is left to the pattern)."""
    if not text.isascii() and max(text) > "\xff":
        return True
    return not _ABBREVIATION_HEADS.isdisjoint(_WORD_RUN.findall(text.lower()))


def _expand(match: re.Match[str]) -> str:
    """The abbreviation `match` found, spelled out."""
    word = match.group(1)
    found = ABBREVIATIONS.get(word.lower())
    if found is None:  # the pattern's case folding equates more than `lower` ("ſtp" is "stp")
        found = next(v for k, v in ABBREVIATIONS.items() if re.fullmatch(re.escape(k), word, re.I))
    return found


def clean_chat(text: str) -> str:
    """What a chat message asks, in words the retrieval knows (markup gone, abbreviations out).

    Returns "" for a message that was only markup, mentions or emoji."""
    return read_chat(text)[1]


# Keyed on messages (the engine reads one, then the classify rules read it again): bounded in
# bytes too. One entry holds both readings: the classify rules strip the message the engine
# cleaned, so one miss per message instead of one per reading.
@memo(capacity=4096, max_bytes=4 * MiB)
def read_chat(text: str) -> tuple[str, str]:
    """`(strip_markup(text), clean_chat(text))`, computed together."""
    bare = _strip_markup(text)
    cleaned = expand_abbreviations(bare)
    # A question left as only punctuation ("?? 🤔" -> "??") asks nothing.
    return bare, cleaned if any(ch.isalnum() for ch in cleaned) else ""


# ---------------------------------------------------------------------------- typos

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def edits1(word: str) -> set[str]:
    """Every string one edit (insertion, deletion, substitution, swap of neighbours) away."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return (deletes | swaps | replaces | inserts) - {word}


def typo_candidates(
    word: str, vocabulary: Collection[str], edits: AbstractSet[str] | None = None
) -> set[str]:
    """Words of `vocabulary` that `word` (folded) may be a typo of (`edits`: `edits1(word)`, when
    the caller has it already).

    Typos rarely hit the first letter ("chang" is not "zhang"), and a word that only differs from
    another at its end is rather a name, plural or compound ("spacex" is not "space"). Words
    of four letters only count as typos of a word with one letter more ("whre", "earh"), and
    shorter ones never: too many short words are one edit apart.
    """
    if len(word) < 4 or not word.isalpha():
        return set()
    candidates = {c for c in (edits1(word) if edits is None else edits) if c[0] == word[0]}
    if isinstance(vocabulary, WordSet):  # memory-mapped: one vectorised search, not 400
        found = vocabulary.members(candidates)
    else:
        found = {c for c in candidates if c in vocabulary}
    found = {c for c in found if not differs_only_at_the_end(word, c)}
    if len(word) == 4:
        found = {c for c in found if len(c) == 5}
    return found


def differs_only_at_the_end(word: str, other: str) -> bool:
    """ "spacex" / "space" / "spaces": one is the other with its end added, cut or changed.
    Names, plurals and compounds end that way far more often than typos do."""
    return other.startswith(word) or word.startswith(other) or other[:-1] == word[:-1]


class Speller:
    """Fixes one-edit typos ("pesqet", "lauch", "qunad", "artcile") in chat text.

    `targets` (folded word -> weight) are the corpus words a typo may become, the heavier
    winning; `fallback` are everyday words a typo may become when no corpus word fits (only when
    exactly one fits); `is_known(word)` says a word is right as it is (an everyday word, an
    inflection, a name), and `known` holds words it says so of (settled by one set look-up). See
    `typo_candidates` for what counts as a typo.
    """

    def __init__(
        self,
        targets: Mapping[str, float],
        is_known: Callable[[str], bool],
        fallback: Collection[str] = frozenset(),
        known: AbstractSet[str] = frozenset(),
    ) -> None:
        self.targets = dict(targets)
        self.is_known = is_known
        self.fallback = fallback
        # Folded words `suggest` leaves alone at once (targets and `known`).
        self._right = frozenset(self.targets).union(known)
        # Folded word -> its fix, "" for none: the words of questions recur, and finding the
        # candidates of an unknown word costs a few hundred edits. Keyed on what users type.
        self._fixes: Memo[str, str] = Memo(self._fix, capacity=16384, max_bytes=2 * MiB)

    def suggest(self, word: str) -> str | None:
        """The word `word` is a typo of, or None (known word, no or several candidates)."""
        w = fold(word)
        if len(w) < 4 or not w.isalpha() or w in self.targets or self.is_known(w):
            return None
        return self._fixes(w) or None

    def _fix(self, w: str) -> str:
        """`suggest` for a folded word of four letters or more, neither a target nor known;
        "" for None."""
        ranked = sorted(typo_candidates(w, self.targets), key=lambda c: (-self.targets[c], c))
        if ranked:
            if len(ranked) > 1 and self.targets[ranked[0]] == self.targets[ranked[1]]:
                return ""  # ambiguous: leave the word alone
            return ranked[0]
        everyday = typo_candidates(w, self.fallback)
        return everyday.pop() if len(everyday) == 1 else ""

    def correct(self, text: str) -> str:
        """`text` with each typo replaced by the word meant (the rest untouched)."""
        # Most messages hold no typo: their distinct words are looked at first, in bulk, and only
        # a message with a word to fix goes through the replacing pass below.
        if not self._has_typo(text):
            return text

        def fix(match: re.Match[str]) -> str:
            token = match.group(0)
            if "'" in token or "’" in token:
                elided = _ELIDED.match(token)
                if elided is None:
                    return token  # "chang'e", "aujourd'hui": one word, not a typo plus a word
                head, rest = token[: elided.end()], token[elided.end() :]
                return head + (self.suggest(rest) or rest)
            return self.suggest(token) or token

        return _SPELL_TOKEN.sub(fix, text)

    def _has_typo(self, text: str) -> bool:
        """Whether `correct` would change a word of `text`: the words its `fix` would look up
        (the token, or what follows its elision), folded, outside `_right`, given to `suggest`."""
        tokens = _SPELL_TOKEN.findall(text)
        if "'" in text or "’" in text:
            words = []
            for token in tokens:
                if "'" in token or "’" in token:
                    elided = _ELIDED.match(token)
                    if elided is None:
                        continue  # left as it is
                    token = token[elided.end() :]
                words.append(token)
        else:
            words = tokens
        if not words:
            return False
        # One fold for all of them: folding is character by character and keeps the spaces
        # between words; a word whose folding holds a space (compatibility forms) takes the
        # word-by-word way.
        folded = (" ".join(words).lower() if text.isascii() else fold(" ".join(words))).split(" ")
        if len(folded) != len(words):
            folded = [fold(w) for w in words]
        unsure = {
            w for w, f in zip(words, folded, strict=True) if len(f) >= 4 and f not in self._right
        }
        return any(self.suggest(w) is not None for w in unsure)


_SPELL_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
_ELIDED = re.compile(r"^(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)
