"""Shared fixtures: a private copy of the real corpus and index per test, the real model."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bot.serving.service import FactBotService
from bot.settings import Settings
from tests.pg_cluster import PgCluster, cluster_for_tests

ROOT = Path(__file__).resolve().parents[1]
REAL_CORPUS = ROOT / "corpus"
MODEL_CACHE = ROOT / "var" / "models"


def base_env(corpus: Path, index: Path) -> dict[str, str]:
    """Settings for an isolated bot: its own corpus, index and database, no cooldown, no watcher.

    The embedding backend is the product's default (openvino-int8, f32 numerics: a text's vector
    does not depend on its batch, on any x86-64 CPU); its export is the one `make run` makes, in
    the checkout's var/models, made once if missing. Tests of torch ask for it by name.
    """
    return {
        "CORPUS_DIR": str(corpus),
        "INDEX_DIR": str(index),
        "MODEL_CACHE_DIR": str(MODEL_CACHE),
        "INDEX_WATCH_SECONDS": "0",
        "USER_COOLDOWN_SECONDS": "0",
        "MODERATOR_COOLDOWN_SECONDS": "0",
        "LOG_LEVEL": "INFO",
        # Its own database (notes made in chat, question log) and hash key, beside its index.
        "DATABASE_URL": f"sqlite:///{index.parent / 'factbot.db'}",
        "USER_HASH_KEY_FILE": str(index.parent / "user-hash.key"),
    }


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Each test leaves the root logger as it found it: `factbot` commands run in-process
    (`cli.main`) install their handler on the stream of that test's capture, which is closed
    once the test ends; a later test logging through it would print a logging error."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def prebuilt_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real corpus indexed once per session with the real model; tests copy it."""
    root = tmp_path_factory.mktemp("prebuilt")
    corpus = root / "corpus"
    shutil.copytree(REAL_CORPUS, corpus)
    settings = Settings.from_mapping(base_env(corpus, root / "index"))
    FactBotService.from_settings(settings)
    return root / "index"


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private, writable copy of the real corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(REAL_CORPUS, dest)
    return dest


@pytest.fixture
def make_settings(
    tmp_path: Path, corpus_copy: Path, prebuilt_index: Path
) -> Callable[..., Settings]:
    """`make_settings(VAR=value, ...)`: settings over a private corpus and a copy of the index."""
    index_dir = tmp_path / "index"
    if not index_dir.exists():
        shutil.copytree(prebuilt_index, index_dir, symlinks=True)

    def make(**env: str) -> Settings:
        values = base_env(corpus_copy, index_dir)
        values.update(env)
        return Settings.from_mapping(values)

    return make


# ---------------------------------------------------------------- databases (storage tests)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """The real PostgreSQL server `make test` started (tests/pg_cluster.py), or one started
    here for this session when the environment describes none."""
    with cluster_for_tests() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"t_{os.urandom(6).hex()}"
    url = pg_cluster.create_database(name)
    yield url
    if pg_cluster.running():
        pg_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'factbot.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def service(make_settings: Callable[..., Settings]) -> Iterator[FactBotService]:
    """A real service (real model, FAISS, BM25) over a private corpus and index."""
    svc = FactBotService.from_settings(make_settings())
    yield svc
    asyncio.run(svc.aclose())
