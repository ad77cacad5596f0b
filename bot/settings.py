"""The one place that reads the environment.

`Settings.load()` merges `.env` (python-dotenv) with the process environment (which wins) into a
frozen dataclass; every other module receives a `Settings` and never touches `os.environ`.
`apply_library_environment()` is the one write: a switch a library reads only from there.
Secrets are excluded from `repr` so a settings object can be logged safely.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

DEFAULT_MODEL = "bundled:all-MiniLM-L6-v2"
# Kept equal to index.embeddings.BACKENDS (a test checks): importing it here would load numpy
# for every command.
EMBEDDING_BACKENDS = ("torch", "openvino-int8")
# The model exported once to OpenVINO (int8 weights, f32 numerics): a 0.7 s start and 220 MiB
# instead of torch's 4.8 s and 620 MiB, same answers on the dev set (README, "Benchmarks").
DEFAULT_BACKEND = "openvino-int8"
# Kept equal to index.openvino_backend.PRECISIONS (a test checks), for the same reason.
OPENVINO_PRECISIONS = ("f32", "bf16")
# Values the tokenizers library reads as "off" in TOKENIZERS_PARALLELISM (its own parsing).
_TOKENIZERS_OFF = frozenset({"", "off", "false", "f", "no", "n", "0"})


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value > 65535:
        raise SettingsError(f"{name} must be a TCP port (0-65535), got {value}")
    return value


def _ids(env: Mapping[str, str], name: str) -> tuple[int, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return ()
    out = []
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise SettingsError(
                f"{name} must be a comma-separated list of numeric ids, got {part!r}"
            )
        out.append(int(part))
    return tuple(out)


def _channel_map(env: Mapping[str, str], name: str) -> tuple[tuple[str, str], ...]:
    """`community:channel,…` (a Discord server or Slack workspace id, then its channel id), or
    one bare channel id for every community (a bot serving one server): ("*", id)."""
    out: list[tuple[str, str]] = []
    for part in _strs(env, name):
        community, sep, channel = part.rpartition(":")
        community = community.strip() if sep else "*"
        channel = channel.strip()
        if not channel.isalnum() or not (community == "*" or community.isalnum()):
            raise SettingsError(
                f"{name} must be a channel id or community_id:channel_id pairs, got {part!r}"
            )
        out.append((community, channel))
    return tuple(out)


def _strs(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "")
    return tuple(p.strip() for p in raw.replace(";", ",").split(",") if p.strip())


def _str(env: Mapping[str, str], name: str, default: str = "") -> str:
    value = env.get(name, "")
    return value.strip() if value and value.strip() else default


# The placeholders CLAIMREVIEW_URL may hold (bot/notes/claimreview.py fills them).
CLAIMREVIEW_URL_FIELDS = ("id", "lang")


def _url_template(env: Mapping[str, str], name: str) -> str:
    """An http(s) URL template holding {id} (and optionally {lang}), or "" when unset."""
    import string

    value = _str(env, name)
    if not value:
        return ""
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http(s) URL, got {value!r}")
    try:
        fields_used = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
    except ValueError as exc:
        raise SettingsError(f"{name} has unbalanced braces: {exc}") from None
    unknown = sorted(fields_used - set(CLAIMREVIEW_URL_FIELDS))
    if unknown or "id" not in fields_used:
        raise SettingsError(
            f"{name} must hold {{id}} (and may hold {{lang}}) and no other placeholder, "
            f"got {value!r}"
        )
    return value


def _api_base(env: Mapping[str, str], name: str, default: str, allow_http: bool) -> str:
    """An https URL, or http to a loopback host (a local proxy, the tests' fakes): anything else
    would send the bot token in clear (unless API_BASE_ALLOW_HTTP=on, for a closed test network)."""
    value = _str(env, name, default)
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
    except ValueError:
        parts, host = None, ""
    if parts is None or parts.scheme not in ("https", "http") or not host:
        raise SettingsError(f"{name} must be an https:// URL, got {value!r}")
    if parts.scheme == "https" or allow_http:
        return value
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SettingsError(
            f"{name} must be https:// (plain http:// only to a loopback host such as "
            f"127.0.0.1: the bot token would travel in clear), got {value!r}"
        )
    return value


def _choice(
    env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str | None = None
) -> str:
    value = _str(env, name, choices[0] if default is None else default).lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Every setting factbot has; `.env.example` documents each one."""

    # Knowledge and index
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("var/index")
    embedding_model: str = DEFAULT_MODEL
    embedding_backend: str = DEFAULT_BACKEND
    openvino_precision: str = "f32"
    model_cache_dir: Path = Path("var/models")
    french_gloss: bool = True  # embed French questions through their English gloss
    embed_batch_size: int = 32
    chunk_max_sentences: int = 1
    chunk_max_chars: int = 600
    top_k: int = 3
    max_question_chars: int = 500
    embed_cache_size: int = 1024
    embed_threads: int = 0
    # tokenizers' own thread pool; off: a batch is tokenised on the encoding thread, with no pool
    # competing with the encoder's threads on a small host (and no warning in forked children).
    tokenizers_parallelism: bool = False
    answer_workers: int = 2
    index_watch_seconds: float = 2.0
    # A burst of note changes seen by the watch is one rebuild, once quiet for this long.
    index_rebuild_debounce_seconds: float = 1.0
    # A notes revision that fails to build is retried less and less often, at most this far apart.
    index_retry_max_seconds: float = 600.0
    log_level: str = "INFO"

    # Chat behaviour shared by the adapters
    shutdown_grace_seconds: float = 10.0
    user_cooldown_seconds: float = 5.0
    user_cooldown_burst: int = 3
    # Moderators' note saves and /reindex (bot/serving/moderation.py): a burst, then one per N seconds.
    moderator_cooldown_seconds: float = 10.0
    moderator_cooldown_burst: int = 3
    api_base_allow_http: bool = False  # http:// API bases to non-loopback hosts (test networks)

    # Discord
    discord_token: str = field(default="", repr=False)
    discord_guild_ids: tuple[int, ...] = ()
    moderator_role_ids: tuple[int, ...] = ()
    # Servers where Manage Server makes a moderator; empty: DISCORD_GUILD_IDS (bot/serving/moderation.py).
    moderator_guild_ids: tuple[int, ...] = ()
    discord_moderator_user_ids: tuple[int, ...] = ()
    discord_leave_unlisted_guilds: bool = False
    # Post the article card once where the bot arrives (a Discord server, a Slack channel).
    about_on_join: bool = False
    ask_channel_ids: tuple[int, ...] = ()
    discord_api_base: str = "https://discord.com/api/v10"
    discord_application_id: int = 0
    discord_shard_count: int = 0
    discord_shard_ids: tuple[int, ...] = ()

    # Slack
    slack_bot_token: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    slack_api_base: str = "https://slack.com/api/"
    slack_moderator_ids: tuple[str, ...] = ()
    # "Ask a moderator" on Slack: (workspace id, channel id) pairs; "*" = every workspace
    slack_moderator_channels: tuple[tuple[str, str], ...] = ()
    slack_port: int = 3000
    slack_host: str = "127.0.0.1"

    # Storage: the question log, feedback votes and thread memory (bot/storage/)
    database_url: str = field(default="sqlite:///var/factbot.db", repr=False)  # may hold a password
    log_questions: bool = True
    log_retention_days: int = 90
    user_hash_key: str = field(default="", repr=False)
    user_hash_key_file: Path = Path("var/user-hash.key")
    store_buffer_rows: int = 10_000

    # Closing the loop: corrections, subscriptions, notifications (bot/learning/notify.py)
    correction_window_days: int = 30
    subscription_days: int = 30
    notify_lease_seconds: float = 120.0
    notify_channel_burst: int = 3
    notify_channel_seconds: float = 2.0
    # "Ask a moderator": (community id, channel id) pairs; "*" = every community
    moderator_channels: tuple[tuple[str, str], ...] = ()

    # Prometheus metrics and health probes (bot/ops/metrics.py); port 0 = off
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"

    # ClaimReview export (`factbot export claimreview`, bot/notes/claimreview.py)
    factcheck_publisher: str = "factbot"
    claimreview_url: str = ""  # template with {id} and optionally {lang}; "" = no url

    @classmethod
    def load(
        cls,
        env_file: str | os.PathLike[str] | None = ".env",
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from `env_file` (if it exists) overlaid with `environ` (default os.environ)."""
        merged: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        merged.update(os.environ if environ is None else environ)
        return cls.from_mapping(merged)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from a plain mapping of variable names to strings."""
        allow_http = _choice(env, "API_BASE_ALLOW_HTTP", ("off", "on")) == "on"
        settings = cls(
            corpus_dir=Path(_str(env, "CORPUS_DIR", "corpus")),
            index_dir=Path(_str(env, "INDEX_DIR", "var/index")),
            embedding_model=_str(env, "EMBEDDING_MODEL", DEFAULT_MODEL),
            embedding_backend=_choice(
                env, "EMBEDDING_BACKEND", EMBEDDING_BACKENDS, DEFAULT_BACKEND
            ),
            openvino_precision=_choice(env, "OPENVINO_PRECISION", OPENVINO_PRECISIONS),
            model_cache_dir=Path(_str(env, "MODEL_CACHE_DIR", "var/models")),
            french_gloss=_choice(env, "FRENCH_GLOSS", ("on", "off")) == "on",
            embed_batch_size=_int(env, "EMBED_BATCH_SIZE", 32, minimum=1),
            chunk_max_sentences=_int(env, "CHUNK_MAX_SENTENCES", 1, minimum=1),
            chunk_max_chars=_int(env, "CHUNK_MAX_CHARS", 600, minimum=50),
            top_k=_int(env, "TOP_K", 3, minimum=1),
            max_question_chars=_int(env, "MAX_QUESTION_CHARS", 500, minimum=10),
            embed_cache_size=_int(env, "EMBED_CACHE_SIZE", 1024, minimum=0),
            embed_threads=_int(env, "EMBED_THREADS", 0, minimum=0),
            tokenizers_parallelism=_str(env, "TOKENIZERS_PARALLELISM", "false").lower()
            not in _TOKENIZERS_OFF,
            answer_workers=_int(env, "ANSWER_WORKERS", 2, minimum=1),
            index_watch_seconds=_float(env, "INDEX_WATCH_SECONDS", 2.0),
            index_rebuild_debounce_seconds=_float(env, "INDEX_REBUILD_DEBOUNCE_SECONDS", 1.0),
            index_retry_max_seconds=_float(env, "INDEX_RETRY_MAX_SECONDS", 600.0),
            log_level=_str(env, "LOG_LEVEL", "INFO").upper(),
            shutdown_grace_seconds=_float(env, "SHUTDOWN_GRACE_SECONDS", 10.0),
            user_cooldown_seconds=_float(env, "USER_COOLDOWN_SECONDS", 5.0),
            user_cooldown_burst=_int(env, "USER_COOLDOWN_BURST", 3, minimum=1),
            moderator_cooldown_seconds=_float(env, "MODERATOR_COOLDOWN_SECONDS", 10.0),
            moderator_cooldown_burst=_int(env, "MODERATOR_COOLDOWN_BURST", 3, minimum=1),
            api_base_allow_http=allow_http,
            discord_token=_str(env, "DISCORD_TOKEN"),
            discord_guild_ids=_ids(env, "DISCORD_GUILD_IDS"),
            moderator_role_ids=_ids(env, "MODERATOR_ROLE_IDS"),
            moderator_guild_ids=_ids(env, "MODERATOR_GUILD_IDS"),
            discord_moderator_user_ids=_ids(env, "DISCORD_MODERATOR_USER_IDS"),
            discord_leave_unlisted_guilds=_choice(
                env, "DISCORD_LEAVE_UNLISTED_GUILDS", ("off", "on")
            )
            == "on",
            ask_channel_ids=_ids(env, "ASK_CHANNEL_IDS"),
            about_on_join=_choice(env, "ABOUT_ON_JOIN", ("off", "on")) == "on",
            discord_api_base=_api_base(
                env, "DISCORD_API_BASE", "https://discord.com/api/v10", allow_http
            ).rstrip("/"),
            discord_application_id=_int(env, "DISCORD_APPLICATION_ID", 0),
            discord_shard_count=_int(env, "DISCORD_SHARD_COUNT", 0),
            discord_shard_ids=_ids(env, "DISCORD_SHARD_IDS"),
            slack_bot_token=_str(env, "SLACK_BOT_TOKEN"),
            slack_app_token=_str(env, "SLACK_APP_TOKEN"),
            slack_signing_secret=_str(env, "SLACK_SIGNING_SECRET"),
            slack_api_base=_api_base(env, "SLACK_API_BASE", "https://slack.com/api/", allow_http),
            slack_moderator_ids=_strs(env, "SLACK_MODERATOR_IDS"),
            slack_moderator_channels=_channel_map(env, "SLACK_MODERATOR_CHANNEL_ID"),
            slack_port=_int(env, "SLACK_PORT", 3000, minimum=1),
            slack_host=_str(env, "SLACK_HOST", "127.0.0.1"),
            database_url=_str(env, "DATABASE_URL", "sqlite:///var/factbot.db"),
            log_questions=_choice(env, "LOG_QUESTIONS", ("on", "off")) == "on",
            log_retention_days=_int(env, "LOG_RETENTION_DAYS", 90, minimum=1),
            user_hash_key=_str(env, "USER_HASH_KEY"),
            user_hash_key_file=Path(_str(env, "USER_HASH_KEY_FILE", "var/user-hash.key")),
            store_buffer_rows=_int(env, "STORE_BUFFER_ROWS", 10_000, minimum=100),
            correction_window_days=_int(env, "CORRECTION_WINDOW_DAYS", 30, minimum=0),
            subscription_days=_int(env, "SUBSCRIPTION_DAYS", 30, minimum=1),
            notify_lease_seconds=max(_float(env, "NOTIFY_LEASE_SECONDS", 120.0), 1.0),
            notify_channel_burst=_int(env, "NOTIFY_CHANNEL_BURST", 3, minimum=1),
            notify_channel_seconds=max(_float(env, "NOTIFY_CHANNEL_SECONDS", 2.0), 0.0),
            moderator_channels=_channel_map(env, "MODERATOR_CHANNEL_ID"),
            metrics_port=_port(env, "METRICS_PORT", 0),
            metrics_host=_str(env, "METRICS_HOST", "127.0.0.1"),
            factcheck_publisher=_str(env, "FACTCHECK_PUBLISHER", "factbot"),
            claimreview_url=_url_template(env, "CLAIMREVIEW_URL"),
        )
        if settings.discord_leave_unlisted_guilds and not (
            settings.discord_guild_ids or settings.moderator_guild_ids
        ):
            raise SettingsError(
                "DISCORD_LEAVE_UNLISTED_GUILDS=on needs DISCORD_GUILD_IDS or MODERATOR_GUILD_IDS "
                "(the servers to stay in)"
            )
        return settings

    @property
    def discord_enabled(self) -> bool:
        return bool(self.discord_token)

    def moderator_channel(self, community_id: str) -> str | None:
        """The moderators' channel of one server or workspace ("Ask a moderator"), or None."""
        channels = dict(self.moderator_channels)
        return channels.get(str(community_id)) or channels.get("*")

    def slack_moderator_channel(self, team_id: str) -> str | None:
        """The moderators' channel of one Slack workspace ("Ask a moderator"), or None."""
        channels = dict(self.slack_moderator_channels)
        return channels.get(str(team_id)) or channels.get("*")

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_app_token or self.slack_signing_secret))

    def secrets(self) -> tuple[str, ...]:
        """Every configured secret value, for log redaction."""
        return tuple(
            v
            for f in fields(self)
            if not f.repr
            and isinstance(v := _secret_part(f.name, getattr(self, f.name)), str)
            and v
        )


def apply_library_environment(settings: Settings) -> None:
    """Hand the settings a library reads only from the process environment to it (before the
    model is loaded): TOKENIZERS_PARALLELISM, so that a value in `.env` counts too."""
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if settings.tokenizers_parallelism else "false"


def _secret_part(name: str, value: object) -> object:
    # Of DATABASE_URL only the password is secret (the rest names the database in log lines).
    if name == "database_url" and isinstance(value, str):
        from urllib.parse import urlsplit

        try:
            return urlsplit(value).password or ""
        except ValueError:
            return value
    return value
