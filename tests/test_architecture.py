"""Architecture: which package may import which, no import cycles, no import of our own modules
inside a function (bar a documented allow-list), chat libraries only in their platform package.

The import graph is read with `ast` from the source, never by importing it. Every import counts:
module level, inside `if TYPE_CHECKING:` (a cycle through type hints is still a cycle in the
design: notes <-> serving was one) and inside functions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

SHARED = frozenset(
    {"bot.settings", "bot.messages", "bot.answer", "bot.logs", "bot.community", "index"}
)
CORE = frozenset({"bot.storage", "bot.answering", "bot.notes", "bot.serving", "bot.learning"})
CHAT_MAY = SHARED | CORE | {"bot.ops"}

# Unit -> the units it may import (besides itself). A module's unit is the longest key that is
# its name or a package above it. chat -> serving -> notes -> answering -> storage -> index; the
# shared modules (settings, the message catalogue, the `Answer` records, logging) sit under all.
ALLOWED: Mapping[str, frozenset[str]] = {
    "index": frozenset(),
    "bot": frozenset(),  # bot/__init__.py
    "bot.settings": frozenset(),
    "bot.logs": frozenset(),  # logging set-up, redaction, how log lines name users
    "bot.answer": frozenset({"index"}),
    "bot.community": frozenset(),  # whose data: one server or workspace
    "bot.messages": frozenset({"bot.answer", "index"}),
    "bot.storage": SHARED,
    "bot.answering": SHARED | {"bot.storage"},
    "bot.notes": SHARED | {"bot.storage", "bot.answering"},
    "bot.serving": SHARED | {"bot.storage", "bot.answering", "bot.notes"},
    "bot.learning": SHARED | {"bot.storage", "bot.answering", "bot.serving"},
    "bot.ops": SHARED | {"bot.answering", "bot.serving", "bot.learning"},
    "bot.chat": CHAT_MAY,  # the package (AdapterStartError) and the console
    "bot.chat.discord": CHAT_MAY | {"bot.chat"},
    "bot.chat.slack": CHAT_MAY | {"bot.chat"},
    "bot.cli": CHAT_MAY | {"bot.chat", "bot.chat.discord", "bot.chat.slack"},
}

# Only these units may import a chat library.
CHAT_LIBRARIES: Mapping[str, str] = {
    "discord": "bot.chat.discord",
    "slack_bolt": "bot.chat.slack",
    "slack_sdk": "bot.chat.slack",
}

# Imports of our own modules inside a function, each for start-up speed (never to dodge a
# cycle: the cycle check sees them too). Importer -> the modules it may import lazily.
LAZY_ALLOWED: Mapping[tuple[str, str], str] = {
    # Each command imports what it needs, so `factbot --help` stays instant and a command never
    # loads the chat libraries or the model it does not use (test_cli::test_help_does_not_import_torch).
    ("bot.cli.commands", "*"): "each command loads only what it runs",
    # openvino (optional) loads only when EMBEDDING_BACKEND selects it.
    ("index.embeddings", "index.openvino_backend"): "the OpenVINO backend, on demand",
    # SQLAlchemy (~0.2 s) loads only when a database is used: `factbot ask` imports the storage
    # package (its errors, the notes repository) but, its index current, reads the notes' SQLite
    # file with sqlite3 (test_cli_imports).
    ("bot.storage", "bot.storage.database"): "the package's SQLAlchemy names, at first use",
    ("bot.storage", "bot.storage.store"): "the package's SQLAlchemy names, at first use",
    ("bot.storage.notes", "bot.storage.note_sql"): "the notes' queries, at the first one",
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    lazy: bool  # inside a function


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted name -> file, for every module of `packages` under `root`."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic's scripts, loaded by Alembic
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _walk(node: ast.AST, in_function: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
        yield child, inside
        yield from _walk(child, inside)


def imports(root: Path, packages: tuple[str, ...]) -> tuple[list[Import], list[str]]:
    """Every import between our modules (resolved to a module when it names one), and every
    import of a chat library as "module: library"."""
    known = modules(root, packages)
    edges, chat = [], []
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        for node, lazy in _walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    anchor = name.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
                ]
            for target in dict.fromkeys(targets):
                top = target.split(".")[0]
                if top in CHAT_LIBRARIES:
                    chat.append(f"{name}: {target}")
                while target and target not in known and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in known and target != name:
                    edges.append(Import(name, target, node.lineno, lazy))
    return edges, chat


def unit(module: str, table: Mapping[str, object]) -> str | None:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in table:
            return ".".join(parts[:i])
    return None


def forbidden(edges: list[Import], table: Mapping[str, frozenset[str]]) -> list[str]:
    out = []
    for e in edges:
        a, b = unit(e.importer, table), unit(e.imported, table)
        if a is None or b is None:
            continue  # reported by `unplaced`
        if a != b and b not in table[a]:
            out.append(f"{e.importer}:{e.line} imports {e.imported} ({a} -> {b} not allowed)")
    return out


def unplaced(names: list[str], table: Mapping[str, object], top: str) -> list[str]:
    """Modules the table does not place: e.g. a new `bot/x.py` that is not a shared module."""
    return [n for n in names if unit(n, table) in (None, top) and n != top]


def cycles(edges: list[Import]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.importer, set()).add(e.imported)
        graph.setdefault(e.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def lazy_own_imports(edges: list[Import], allowed: Mapping[tuple[str, str], str]) -> list[str]:
    return [
        f"{e.importer}:{e.line} imports {e.imported} inside a function"
        for e in edges
        if e.lazy and (e.importer, e.imported) not in allowed and (e.importer, "*") not in allowed
    ]


PACKAGES = ("bot", "index")


def test_every_module_is_placed_in_a_package_by_job() -> None:
    assert unplaced(sorted(modules(ROOT, PACKAGES)), ALLOWED, "bot") == []


def test_packages_import_only_what_the_table_allows() -> None:
    edges, _ = imports(ROOT, PACKAGES)
    assert forbidden(edges, ALLOWED) == []


def test_no_import_cycle_between_modules() -> None:
    edges, _ = imports(ROOT, PACKAGES)
    assert cycles(edges) == []


def test_no_own_module_imported_inside_a_function_but_the_allowed_lazy_ones() -> None:
    edges, _ = imports(ROOT, PACKAGES)
    assert lazy_own_imports(edges, LAZY_ALLOWED) == []


def test_core_never_imports_a_chat_library() -> None:
    _, chat = imports(ROOT, PACKAGES)
    misplaced = []
    for line in chat:
        module, library = line.split(": ")
        home = CHAT_LIBRARIES[library.split(".")[0]]
        if module != home and not module.startswith(home + "."):
            misplaced.append(line)
    assert misplaced == []
    assert chat, "the graph reader found no chat library import at all: it is broken"


# The checker, on a planted tree: it must see what it is there to catch.


def _plant(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_checker_finds_a_planted_cycle_through_a_function_and_type_checking(
    tmp_path: Path,
) -> None:
    _plant(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/low/__init__.py": "",
            "app/low/a.py": "def f() -> None:\n    from app.high.b import g\n",
            "app/high/__init__.py": "",
            "app/high/b.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from app.high import c\n"
                "def g() -> None: ...\n"
            ),
            "app/high/c.py": "from app.low import a\n",
        },
    )
    edges, _ = imports(tmp_path, ("app",))
    assert cycles(edges) == [["app.high.b", "app.high.c", "app.low.a"]]
    table = {"app": frozenset(), "app.low": frozenset(), "app.high": frozenset({"app.low"})}
    assert forbidden(edges, table) == [
        "app.low.a:2 imports app.high.b (app.low -> app.high not allowed)"
    ]
    assert lazy_own_imports(edges, {}) == ["app.low.a:2 imports app.high.b inside a function"]
    assert lazy_own_imports(edges, {("app.low.a", "app.high.b"): "start-up"}) == []


def test_checker_passes_an_acyclic_tree_and_reports_an_unplaced_module(tmp_path: Path) -> None:
    _plant(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/stray.py": "import discord\n",
            "app/low/__init__.py": "",
            "app/low/a.py": "import json\n",
            "app/high/__init__.py": "from . import b\n",
            "app/high/b.py": "from ..low.a import json\n",
        },
    )
    edges, chat = imports(tmp_path, ("app",))
    assert cycles(edges) == []
    assert {(e.importer, e.imported) for e in edges} == {
        ("app.high", "app.high.b"),
        ("app.high.b", "app.low.a"),
    }
    assert chat == ["app.stray: discord"]
    table = {"app": frozenset(), "app.low": frozenset(), "app.high": frozenset({"app.low"})}
    assert unplaced(sorted(modules(tmp_path, ("app",))), table, "app") == ["app.stray"]
