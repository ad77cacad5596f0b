"""Two hosts, one PostgreSQL, no shared folder: a real multi-host deployment on one machine.

Each "host" is a Linux network namespace (tests/netns.py) with its own loopback and one veth to
the test's namespace, where the services live: a PostgreSQL cluster listening on a veth address
(the database server on the LAN), the fake Discord and the fake Slack (the internet). Host A runs
`factbot run` for Discord, host B `factbot run` for Slack, each from its own folder: its own copy
of the corpus, its own var/ (INDEX_DIR, anything else the process writes), its own working
directory; the two share only the database (`DATABASE_URL` over the veths, one `USER_HASH_KEY`
as docs/deploy.md asks). The one folder both read is MODEL_CACHE_DIR, the OpenVINO export of the
embedding model: a program artefact like the virtualenv, not knowledge, exported before the
hosts start and checked untouched afterwards. Each host builds its own index at start.

`_note_from_a_served_by_b` is the multi-host path of issue 15's notes: a moderator adds a note
on host A (Discord `/note add`, modal submit), host B (Slack `/ask`) answers with it after it
sees the database's note revision change and rebuilt its own index; the time from submit to
served on B is printed. Outcomes are asserted, never times: the waits only bound a failure (two
processes importing torch and building an index on a busy 2-core machine can take minutes).

Needs root (namespaces, veths): without it the test fails with one line, it is never skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest

from bot.answering.index_lifecycle import embedder_for
from bot.chat.discord.notes import FIELD_IDS
from bot.chat.discord.render import subscribe_custom_id
from bot.messages import text
from bot.notes.records import FORM_FIELDS, FormField
from bot.settings import Settings
from tests.conftest import MODEL_CACHE, REAL_CORPUS, base_env
from tests.fakes.discord_server import MANAGE_GUILD, FakeDiscord, Interaction, Recorded
from tests.fakes.slack_server import Call, FakeSlack
from tests.netns import Hosts, HostsUnavailable, Namespace
from tests.pg_cluster import PgCluster

pytestmark = pytest.mark.timeout(1800)

START_TIMEOUT = 900.0  # both hosts import torch and build an index at once
ANSWER_TIMEOUT = 300.0
STOP_TIMEOUT = 180.0
NOTE_TIMEOUT = 600.0  # submit on A -> served on B, a failure bound only
USER_HASH_KEY = "multihost-test-key-0123456789abcdef"  # the same on every host (docs/deploy.md)
LAUNCH = "When will Chang'e 6 collect lunar samples?"
LAUNCH_NOTE = "launched in May 2024"  # fc-13-launch-date's rating, in every answer to LAUNCH


# ---------------------------------------------------------------------- the machines


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    """Two namespaces with their veths; deleted afterwards, and checked gone."""
    network = Hosts(2)
    try:
        network.__enter__()
    except HostsUnavailable as exc:
        pytest.fail(f"multi-host test: {exc}", pytrace=False)
    try:
        yield network
    finally:
        network.cleanup()
    left = network.leftovers()
    assert not left, f"namespaces or links left behind: {left}"


@pytest.fixture
def database(hosts: Hosts) -> Iterator[tuple[PgCluster, str]]:
    """A PostgreSQL cluster of its own, on 127.0.0.1 and host A's veth address, trusting the
    namespaces' subnet; the URL both hosts use (host B reaches it through its own veth)."""
    server = hosts.namespaces[0].host_ip
    cluster = PgCluster.create(listen=("127.0.0.1", server), trusted_networks=(str(hosts.subnet),))
    try:
        cluster.create_database("factbot")
        yield cluster, cluster.url("factbot", host=server)
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OpenVINO export both hosts read, made here first (as `make run`'s set-up does)."""
    scratch = tmp_path_factory.mktemp("model-export")
    embedder_for(Settings.from_mapping(base_env(scratch / "corpus", scratch / "index")))
    return MODEL_CACHE


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder`: relative path -> (size, mtime in ns)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@dataclass
class Host:
    """One stand-in machine: a namespace, a folder of its own, one `factbot run` process."""

    name: str
    netns: Namespace
    root: Path
    proc: asyncio.subprocess.Process | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def index_dir(self) -> Path:
        return self.var / "index"

    @property
    def log_path(self) -> Path:
        return self.root / "factbot.log"

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

    def env(self, database_url: str, cache: Path, platform: dict[str, str]) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root / "home"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "CORPUS_DIR": str(self.root / "corpus"),
            "INDEX_DIR": str(self.index_dir),
            "MODEL_CACHE_DIR": str(cache),
            # Polled for another host's builds and (issue 15) the database's note revision.
            "INDEX_WATCH_SECONDS": "1",
            "USER_COOLDOWN_SECONDS": "0",
            # The fakes listen on the veths in plain http (no TLS on this closed test network).
            "API_BASE_ALLOW_HTTP": "on",
            "SHUTDOWN_GRACE_SECONDS": "120",
            "LOG_LEVEL": "INFO",
            "DATABASE_URL": database_url,
            "USER_HASH_KEY": USER_HASH_KEY,
            # Any default path the settings leave relative lands in this host's own var/.
            "USER_HASH_KEY_FILE": str(self.var / "user-hash.key"),
            # A checkout run without installing it (`PYTHONPATH=<worktree> pytest ...`): the
            # hosts run that checkout's bot too, not the one the virtualenv's install points at.
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),
            **platform,
        }

    async def start(self, env: dict[str, str]) -> None:
        """`factbot run` inside the namespace, from this host's own folder (its cwd)."""
        (self.root / "home").mkdir(parents=True, exist_ok=True)
        self.var.mkdir(parents=True, exist_ok=True)
        shutil.copytree(REAL_CORPUS, self.root / "corpus")
        # A file, not a pipe: nobody reads the log while the bot runs, and a full pipe blocks it.
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        argv = [sys.executable, "-m", "bot.cli", "--env-file", str(self.root / "none.env"), "run"]
        self.proc = await asyncio.create_subprocess_exec(
            *self.netns.command(argv),
            cwd=self.root,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
        )

    async def stop(self) -> int | None:
        """SIGTERM, then the exit status (killed, and None, when it does not stop in time)."""
        status: int | None = None
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                status = await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        elif self.proc is not None:
            status = self.proc.returncode
        if self._log is not None:
            self._log.close()
        return status

    def netns_inode(self) -> int:
        assert self.proc is not None
        return os.stat(f"/proc/{self.proc.pid}/ns/net").st_ino

    def published_index(self) -> Path:
        """The build folder this host's `current` link points to (its own manifest inside)."""
        return (self.index_dir / "current").resolve(strict=True)


@contextlib.asynccontextmanager
async def running(*pairs: tuple[Host, dict[str, str]]) -> AsyncIterator[None]:
    """Both hosts started together (their start-ups overlap, as on real machines); stopped
    afterwards whatever happens, each one's exit status checked."""
    started: list[Host] = []
    try:
        for host, env in pairs:
            await host.start(env)
            started.append(host)
        yield
    finally:
        statuses = [await h.stop() for h in started]
    for host, status in zip(started, statuses, strict=True):
        tail = host.log()[-3000:]
        assert status == 0, f"host {host.name} exited with {status}:\n{tail}"
        assert "Traceback" not in host.log(), f"host {host.name}:\n{tail}"


def _client_addresses(cluster: PgCluster) -> set[str]:
    """Where the database's client connections come from (as PostgreSQL sees them)."""
    with psycopg.connect(cluster.url(), autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT DISTINCT host(client_addr) FROM pg_stat_activity WHERE datname = 'factbot'"
        ).fetchall()
    return {str(r[0]) for r in rows if r[0] is not None}


# ---------------------------------------------------------------------- asking


async def ask_discord(discord: FakeDiscord, question: str, user_id: int) -> dict[str, Any]:
    """Host A's public answer to `/ask question` (its embed)."""
    interaction = await discord.interact("ask", {"question": question}, user_id=user_id)
    reply = await discord.wait_reply(interaction, timeout=ANSWER_TIMEOUT)
    (embed,) = reply.message["embeds"]
    assert isinstance(embed, dict)
    return embed


async def ask_slack(slack: FakeSlack, question: str, user: str) -> str:
    """Host B's public answer to `/ask question` by `user`, as one text."""
    await slack.command("/ask", question, user=user)

    def answer() -> list[Call]:
        # The public answer names its asker; each question here has its own asker.
        posts = slack.calls_to("chat.postMessage")
        return [c for c in posts if any(f"<@{user}>" in s for s in c.strings())]

    (post,) = await slack.wait_for(answer, timeout=ANSWER_TIMEOUT)
    return "\n".join(post.strings())


def _embed_text(embed: dict[str, Any]) -> str:
    fields = embed.get("fields") or []
    parts = [embed.get("title", ""), embed.get("description", "")]
    return "\n".join(parts + [f"{f['name']}\n{f['value']}" for f in fields])


# ---------------------------------------------------------------------- the test


async def test_two_hosts_answer_from_their_own_index_over_one_database(
    hosts: Hosts,
    database: tuple[PgCluster, str],
    model_cache: Path,
    tmp_path: Path,
) -> None:
    cluster, database_url = database
    net_a, net_b = hosts.namespaces
    host_a = Host("A", net_a, tmp_path / "host-a")
    host_b = Host("B", net_b, tmp_path / "host-b")
    cache_before = _files(model_cache)
    assert cache_before, f"no model export in {model_cache}"

    # Discord is reached by host A through its veth, Slack by host B through its own.
    async with FakeDiscord(host=net_a.host_ip) as discord:
        slack = FakeSlack(host=net_b.host_ip)
        await slack.start()
        try:
            # Both hosts serve the one Discord server, as two shards of one bot: the fake
            # routes a server's events (messages, interactions) to the shard that owns it, so
            # every press and modal goes to host A; host B's shard owns no server here and
            # only posts through the REST API (its notifier's deliveries).
            owner = (discord.guild_id >> 22) % 2
            discord_env = {
                "DISCORD_TOKEN": discord.token,
                "DISCORD_API_BASE": discord.api_base,
                "DISCORD_GUILD_IDS": str(discord.guild_id),
                "DISCORD_SHARD_COUNT": "2",
                "DISCORD_SHARD_IDS": str(owner),
            }
            slack_env = {
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_APP_TOKEN": slack.app_token,
                "SLACK_API_BASE": slack.api_base,
                **discord_env,
                "DISCORD_SHARD_IDS": str(1 - owner),
            }
            async with running(
                (host_a, host_a.env(database_url, model_cache, discord_env)),
                (host_b, host_b.env(database_url, model_cache, slack_env)),
            ):
                started = time.monotonic()
                await discord.wait_gateway(identifies=2, timeout=START_TIMEOUT)
                await slack.wait_connected(timeout=START_TIMEOUT)
                print(f"both hosts ready {time.monotonic() - started:.1f}s after the start")

                # Each host is in its own namespace, neither in the test's, and works from its
                # own folder.
                here = os.stat("/proc/self/ns/net").st_ino
                for host in (host_a, host_b):
                    assert host.netns_inode() == os.stat(f"/run/netns/{host.netns.name}").st_ino
                    assert host.netns_inode() != here
                    assert host.proc is not None
                    assert Path(f"/proc/{host.proc.pid}/cwd").resolve() == host.root.resolve()

                # Both answer, each from the index it built.
                embed = await ask_discord(discord, LAUNCH, user_id=1400000000000000101)
                assert LAUNCH_NOTE in _embed_text(embed)
                answer_b = await ask_slack(slack, LAUNCH, user="UBOB0001")
                assert LAUNCH_NOTE in answer_b

                # The database is reached over the veths: PostgreSQL sees both hosts' addresses.
                want = {net_a.ns_ip, net_b.ns_ip}
                deadline = time.monotonic() + ANSWER_TIMEOUT
                while not want <= _client_addresses(cluster) and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                assert want <= _client_addresses(cluster), _client_addresses(cluster)

                # Issue 23: a refused question's 🔔 and an earlier answer, both in threads.
                subscribed = await _subscribe_on_a(discord)
                noted = await _earlier_answer_on_a(discord)
                saved_at, notified_b = time.monotonic(), _notified(host_b)
                await _note_from_a_served_by_b(discord, slack, host_a, host_b)
                await _told_once(discord, cluster, subscribed, "loop.answered.title", saved_at)
                await _notifier_ran(host_b, notified_b)
                assert len(_told(discord, subscribed, "loop.answered.title")) == 1
                assert [r[2] for r in _notifications(cluster) if r[0] == "answer"] == ["sent"]
                await _corrected_once(discord, cluster, host_b, noted)
        finally:
            await slack.close()

    # No shared folder: two index folders, two builds, each manifest in its own host's var/.
    assert host_a.index_dir != host_b.index_dir
    for host in (host_a, host_b):
        build = host.published_index()
        assert build.is_relative_to(host.var), build
        assert (build / "manifest.json").is_file()
        # It built that index itself, at its start: nothing was there before.
        assert f"no index under {host.index_dir} yet: built index" in host.log()
    assert not host_a.published_index().is_relative_to(host_b.root)
    assert not host_b.published_index().is_relative_to(host_a.root)
    # The model export was only read.
    assert _files(model_cache) == cache_before


# ---------------------------------------------------------------------- issue 15: notes

# The note a moderator adds on host A: a claim of the article no corpus note covers yet, and an
# English first paragraph (what an answer quotes) with words no corpus file has.
NEW_NOTE: dict[FormField, str] = {
    "claim": "L'annonce a été faite à l'occasion de la visite du président de la République "
    "populaire de Chine, Xi Jinping",
    "verdict": "accurate",
    "fr": "Exact : Xi Jinping était en visite d'État en France du 24 au 26 mars 2019, à Paris et "
    "à Nice ; l'accord a été signé à Paris le 25 mars 2019, pendant cette visite.",
    "en": "Accurate: Xi Jinping was on a state visit to France from 24 to 26 March 2019, in Paris "
    "and Nice; the agreement was signed in Paris on 25 March 2019, during that visit.",
    "sources": "Élysée — State visit of Xi Jinping | https://www.elysee.fr/",
}
NOTE_MARK = "from 24 to 26 March 2019"  # in the English summary only
NOTE_QUESTION = "Was the announcement made during Xi Jinping's visit to France?"
MODERATOR_ID = 1400000000000000900


async def _note_from_a_served_by_b(
    discord: FakeDiscord, slack: FakeSlack, host_a: Host, host_b: Host
) -> None:
    """A moderator adds a note on host A (`/note add`, the modal, submit); host B answers
    `/ask` with its text once it rebuilt its own index from the database's new revision. The
    times from submit to A's report and to served on B are printed (measures, never asserted)."""
    before = await ask_slack(slack, NOTE_QUESTION, user="UBOB0002")
    assert NOTE_MARK not in before  # B did not know it: the text below comes from the note

    submitted_at, submit = await _submit_note_on_a(discord)
    # A's report and B's answers are awaited together: B is asked from the submit on.
    reported_on_a, served_on_b = await asyncio.gather(
        _saved_on_a(discord, submit, submitted_at), _served_on_b(slack, submitted_at)
    )
    rebuilt = re.findall(r"reindex by notes revision \d+ done in ([\d.]+)s", host_b.log())
    print(
        f"note submitted on host A: A's report after {reported_on_a:.1f}s (its own rebuild "
        f"included), served by host B after {served_on_b:.1f}s (asked every 0.25 s; "
        f"INDEX_WATCH_SECONDS=1; B's rebuild took {', '.join(rebuilt) or '?'} s)"
    )
    assert "notes revision" in host_b.log()  # B rebuilt for the database's new revision
    assert "Traceback" not in host_a.log() + host_b.log()


async def _submit_note_on_a(discord: FakeDiscord) -> tuple[float, Interaction]:
    """`/note add` by a moderator on host A, the modal filled with NEW_NOTE and submitted;
    returns when the submit was sent (`time.monotonic()`) and the submit interaction."""
    names = {c["name"] for c in discord.commands.get(discord.guild_id, [])}
    assert "note" in names, f"host A registered no /note command (only {sorted(names)})"
    opened = await discord.interact(
        "note", subcommand="add", user_id=MODERATOR_ID, user_name="mod", permissions=MANAGE_GUILD
    )
    callback = await discord.wait_callback(opened, timeout=ANSWER_TIMEOUT)
    assert callback.body["type"] == 9, callback.body  # a modal
    modal = callback.body["data"]
    assert _modal_input_ids(modal) == set(FIELD_IDS.values()), modal
    # The verdict is a select: its chosen values, a list.
    values: dict[str, str | list[str]] = {FIELD_IDS[f]: NEW_NOTE[f] for f in FORM_FIELDS}
    values[FIELD_IDS["verdict"]] = [NEW_NOTE["verdict"]]
    submitted_at = time.monotonic()
    # The adapter checks the moderator again on submit: Manage Server, as on the command.
    submit = await discord.submit_modal(
        modal["custom_id"], values, user_id=MODERATOR_ID, user_name="mod", permissions=MANAGE_GUILD
    )
    return submitted_at, submit


async def _saved_on_a(discord: FakeDiscord, submit: Interaction, since: float) -> float:
    """Seconds from `since` to the moderator's private report: saved as a new note, and host
    A's own index rebuilt."""
    report = await discord.wait_reply(submit, timeout=ANSWER_TIMEOUT)
    seconds = time.monotonic() - since
    said = "\n".join(s for m in [report.message, *report.followups] for s in _strings(m))
    assert report.ephemeral and " added (revision " in said, said
    return seconds


async def _served_on_b(slack: FakeSlack, since: float) -> float:
    """Seconds from `since` to host B's first answer carrying the note: the same question
    asked again until then (what a reader on B would see)."""
    attempt = 0
    while True:
        attempt += 1
        answer = await ask_slack(slack, NOTE_QUESTION, user=f"UBOB1{attempt:03d}")
        if NOTE_MARK in answer:
            return time.monotonic() - since
        assert time.monotonic() < since + NOTE_TIMEOUT, f"B never served it:\n{answer}"
        await asyncio.sleep(0.25)


def _modal_input_ids(modal: dict[str, Any]) -> set[str]:
    """The custom ids of the modal's inputs (text inputs and selects), each in a Label."""
    return {
        str(c["custom_id"])
        for row in modal.get("components") or []
        for c in row.get("components") or [row.get("component") or {}]
        if c.get("type") in (3, 4)
    }


def _strings(value: object) -> list[str]:
    """Every string in a message payload (content, embeds, components)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


# ---------------------------------------------------------------------- issue 23: the loop

# Refused until NEW_NOTE exists (the sentence it covers is in no corpus note); asked in French.
REFUSED = "xi etait a paris et nice ?"
# An answer showing a corpus note, whose verdict the moderator then changes.
NOTED = "Combien de kilos d'expériences la France devait-elle embarquer sur Chang'e 6 ?"
NOTED_ID = "fc-12-15kg-experiments"
MEMBER_ID = 1400000000000000301
LOOP_TIMEOUT = 300.0  # a failure bound only


def _posted(discord: FakeDiscord, channel: str) -> list[Recorded]:
    """The bot's accepted posts in a thread (either host's: one fake REST API)."""
    return [
        r
        for r in discord.requests
        if r.method == "POST" and r.path == f"/channels/{channel}/messages" and r.accepted
    ]


def _told(discord: FakeDiscord, thread: str, key: str) -> list[Recorded]:
    """The posts in `thread` that start with the catalogue line `key` (French: the asker's)."""
    head = f"**{text(key, 'fr')}"
    return [r for r in _posted(discord, thread) if str(r.body.get("content", "")).startswith(head)]


async def _ask_in_thread(discord: FakeDiscord, question: str) -> tuple[str, dict[str, Any]]:
    """A member mentions the bot; host A opens a thread and answers there: (thread, answer)."""
    message = await discord.post_message(
        f"<@{discord.bot_id}> {question}", mention_bot=True, author_id=MEMBER_ID
    )
    thread = str(message["id"])
    (answer,) = await discord.wait_for(
        lambda r: r.method == "POST" and r.path == f"/channels/{thread}/messages" and r.accepted,
        ANSWER_TIMEOUT,
    )
    assert isinstance(answer.response, dict)
    return thread, answer.response


def _custom_ids(message: dict[str, Any]) -> list[str]:
    return [
        str(c["custom_id"])
        for row in message.get("components") or []
        for c in row.get("components") or []
    ]


async def _subscribe_on_a(discord: FakeDiscord) -> str:
    """A refused question, its 🔔 pressed (host A: its shard gets the interaction); the thread."""
    thread, refused = await _ask_in_thread(discord, REFUSED)
    ups = [c for c in _custom_ids(refused) if c.startswith("factbot:vote:up:")]
    assert ups, f"no feedback buttons on host A's answer: {refused}"
    bell = subscribe_custom_id(ups[0].rsplit(":", 1)[1])
    assert bell in _custom_ids(refused), refused  # refused: it carries 🔔
    pressed = await discord.press(refused, bell, user_id=MEMBER_ID)
    reply = await discord.wait_reply(pressed, timeout=ANSWER_TIMEOUT)
    assert reply.ephemeral
    return thread


async def _earlier_answer_on_a(discord: FakeDiscord) -> str:
    """An answer showing NOTED_ID, in its thread (logged by host A: the correction's target)."""
    thread, answer = await _ask_in_thread(discord, NOTED)
    assert "15 kg" in "\n".join(_strings(answer)), answer
    return thread


def _notifications(cluster: PgCluster) -> list[tuple[str, str, str]]:
    """Every notification row: (kind, target key, status)."""
    with psycopg.connect(cluster.url("factbot"), autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute("SELECT kind, target_key, status FROM notifications").fetchall()
    return [(str(k), str(t), str(s)) for k, t, s in rows]


async def _settled(cluster: PgCluster, kind: str, want: int) -> list[tuple[str, str, str]]:
    """The rows of `kind` once `want` of them are marked (sent or failed): none still claimed."""
    deadline = time.monotonic() + LOOP_TIMEOUT
    while True:
        rows = [r for r in _notifications(cluster) if r[0] == kind]
        if len(rows) >= want and all(r[2] != "claimed" for r in rows):
            return rows
        assert time.monotonic() < deadline, f"notifications never settled: {rows}"
        await asyncio.sleep(0.25)


async def _told_once(
    discord: FakeDiscord, cluster: PgCluster, thread: str, key: str, since: float
) -> None:
    """The subscriber's thread got the answer exactly once, though both hosts rebuilt for the
    note and ran their notifier (B's rebuild: awaited by `_note_from_a_served_by_b`)."""
    await discord.wait_until(lambda: bool(_told(discord, thread, key)), LOOP_TIMEOUT)
    print(
        f"note saved on host A -> answer delivered in the asker's thread: "
        f"{time.monotonic() - since:.1f}s (upper bound: the save was sent after this mark)"
    )
    (row,) = await _settled(cluster, "answer", 1)
    assert row[2] == "sent", row
    assert len(_told(discord, thread, key)) == 1


async def _corrected_once(
    discord: FakeDiscord, cluster: PgCluster, host_b: Host, thread: str
) -> None:
    """NOTED_ID's verdict changed on host A: its earlier answer's thread gets one correction,
    after both hosts rebuilt (A at once, B from the database's new revision)."""
    notified_b = _notified(host_b)
    opened = await discord.interact(
        "note",
        {"id": NOTED_ID},
        subcommand="edit",
        user_id=MODERATOR_ID,
        user_name="mod",
        permissions=MANAGE_GUILD,
    )
    callback = await discord.wait_callback(opened, timeout=ANSWER_TIMEOUT)
    modal = callback.body["data"]
    values = _prefilled(modal)
    old = values[FIELD_IDS["verdict"]]
    values[FIELD_IDS["verdict"]] = ["misleading" if old != ["misleading"] else "accurate"]
    saved_at = time.monotonic()
    submit = await discord.submit_modal(
        modal["custom_id"], values, user_id=MODERATOR_ID, user_name="mod", permissions=MANAGE_GUILD
    )
    await discord.wait_reply(submit, timeout=ANSWER_TIMEOUT)
    await discord.wait_until(
        lambda: bool(_told(discord, thread, "loop.correction.title")), LOOP_TIMEOUT
    )
    print(f"verdict saved on host A -> correction delivered: {time.monotonic() - saved_at:.1f}s")
    # Host B rebuilt for that revision too and its notifier finished with it.
    await _notifier_ran(host_b, notified_b)
    rows = await _settled(cluster, "correction", 1)
    mine = [r for r in rows if r[1].endswith(f":{thread}")]
    assert [r[2] for r in mine] == ["sent"], rows
    # Nothing claimed by a host that could not send it (A runs no Slack: B's threads are B's).
    assert all(r[2] == "sent" for r in _notifications(cluster)), _notifications(cluster)
    assert len(_told(discord, thread, "loop.correction.title")) == 1


def _prefilled(modal: dict[str, Any]) -> dict[str, str | list[str]]:
    """The values a modal shows (text inputs' values, selects' default options), by id."""
    values: dict[str, str | list[str]] = {}
    for row in modal.get("components") or []:
        for c in row.get("components") or [row.get("component") or {}]:
            if c.get("type") == 4:
                values[str(c["custom_id"])] = str(c.get("value") or "")
            elif c.get("type") == 3:
                chosen = [str(o["value"]) for o in c.get("options") or [] if o.get("default")]
                values[str(c["custom_id"])] = chosen
    return values


def _notified(host: Host) -> int:
    """How many note changes the host's notifier has finished with (its log's count)."""
    return len(re.findall(r"notify: index \S+ done: ", host.log()))


async def _notifier_ran(host: Host, before: int) -> None:
    """Until the host's notifier finished one more note change than `before`."""
    deadline = time.monotonic() + LOOP_TIMEOUT
    while _notified(host) <= before:
        assert time.monotonic() < deadline, f"host {host.name}'s notifier never ran:\n{host.log()}"
        await asyncio.sleep(0.25)
