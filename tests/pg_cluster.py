"""A throwaway PostgreSQL server for the tests (and the storage benchmark).

    python tests/pg_cluster.py run -- .venv/bin/python -m pytest -q

installs Debian's `postgresql` package when no server binaries are found (as root, quietly),
creates a cluster in a temporary folder (initdb, trust authentication, 127.0.0.1 on a free port),
starts it, runs the command with `FACTBOT_TEST_POSTGRES_*` describing it, and stops and deletes
it afterwards, whatever the command's outcome; the exit status is the command's. PostgreSQL
refuses to run as root: as root, the server runs as the `postgres` user (created by Debian's
package), else `nobody`.

`tests/conftest.py` uses the same class: it reuses the cluster the environment describes, or
starts its own when run without one (`pytest tests/test_storage.py`). Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ENV_URL = "FACTBOT_TEST_POSTGRES_URL"
ENV_DATA = "FACTBOT_TEST_POSTGRES_DATA"
ENV_BIN = "FACTBOT_TEST_POSTGRES_BIN"
ENV_PORT = "FACTBOT_TEST_POSTGRES_PORT"
ENV_OS_USER = "FACTBOT_TEST_POSTGRES_OS_USER"
SUPERUSER = "factbot"


class ClusterError(RuntimeError):
    """The test server could not be installed or started; the message is one line."""


def _say(message: str) -> None:
    print(f"pg_cluster: {message}", file=sys.stderr, flush=True)


def find_bindir() -> Path | None:
    """The newest PostgreSQL server binaries: PG_BINDIR, Debian's layout, or PATH."""
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(debian)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def ensure_installed() -> Path:
    """The server binaries, installing Debian's `postgresql` package when missing (root only)."""
    found = find_bindir()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ClusterError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's "
            "'postgresql' package (or set PG_BINDIR) to run the storage tests"
        )
    _say("PostgreSQL not found: installing Debian's postgresql package (apt-get) ...")
    failed = apt_install("postgresql")
    if failed:
        raise ClusterError(failed)
    found = find_bindir()
    if found is None:
        raise ClusterError("postgresql was installed but initdb/pg_ctl are still not found")
    return found


def apt_install(package: str) -> str | None:
    """Install Debian's `package` (root, apt-get); None when done, else one line saying why not."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"cannot install Debian's {package!r}: needs root and apt-get"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return f"'{' '.join(cmd)}' failed (exit {done.returncode}): {' | '.join(tail)}"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as_user() -> str | None:
    """The OS user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise ClusterError("running as root and neither a 'postgres' nor a 'nobody' user exists")


@dataclass
class PgCluster:
    """One PostgreSQL cluster in `data`, listening on 127.0.0.1:`port` (and on `listen`)."""

    bindir: Path
    data: Path
    port: int
    os_user: str | None
    listen: tuple[str, ...] = ("127.0.0.1",)

    @property
    def root(self) -> Path:
        return self.data.parent

    def url(self, database: str = "postgres", host: str = "127.0.0.1") -> str:
        return f"postgresql://{SUPERUSER}@{host}:{self.port}/{database}"

    def env(self) -> dict[str, str]:
        return {
            ENV_URL: self.url(),
            ENV_DATA: str(self.data),
            ENV_BIN: str(self.bindir),
            ENV_PORT: str(self.port),
            ENV_OS_USER: self.os_user or "",
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PgCluster | None:
        """The cluster `run` started for this process, if any."""
        if not env.get(ENV_URL) or not env.get(ENV_DATA):
            return None
        return cls(
            Path(env[ENV_BIN]),
            Path(env[ENV_DATA]),
            int(env[ENV_PORT]),
            env.get(ENV_OS_USER) or None,
        )

    @classmethod
    def create(
        cls,
        durable: bool = False,
        listen: tuple[str, ...] = ("127.0.0.1",),
        trusted_networks: tuple[str, ...] = (),
    ) -> PgCluster:
        """initdb a new cluster in a temporary folder and start it.

        `durable=False` (tests) turns fsync off: a test cluster never survives a crash anyway.
        `listen` are the addresses it listens on and `trusted_networks` the CIDRs it trusts
        besides loopback (the multi-host test's veth subnet).
        """
        bindir = ensure_installed()
        os_user = _run_as_user()
        root = Path(tempfile.mkdtemp(prefix="factbot-pg-"))
        if os_user is not None:
            entry = pwd.getpwnam(os_user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        root.chmod(0o700)
        cluster = cls(bindir, root / "data", free_port(), os_user, listen)
        try:
            cluster._pg(
                "initdb",
                "-D",
                str(cluster.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            )
            settings = [
                f"listen_addresses = '{', '.join(listen)}'",
                f"unix_socket_directories = '{root}'",
                "max_connections = 60",
                "shared_buffers = 32MB",
            ]
            if not durable:
                settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
            with open(cluster.data / "postgresql.conf", "a", encoding="utf-8") as conf:
                conf.write("\n# factbot test cluster\n" + "\n".join(settings) + "\n")
            if trusted_networks:
                with open(cluster.data / "pg_hba.conf", "a", encoding="utf-8") as hba:
                    hba.writelines(f"host all all {net} trust\n" for net in trusted_networks)
            for attempt in range(3):
                try:
                    cluster.start()
                    break
                except ClusterError:
                    if attempt == 2:
                        raise
                    cluster.port = free_port()  # another process took the port meanwhile
        except BaseException:
            cluster.destroy()
            raise
        return cluster

    def _pg(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = self.os_user
        done = subprocess.run(
            [str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=self.root,
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
            env=dict(os.environ, LC_ALL="C", HOME=str(self.root)),
            timeout=120,
        )
        if check and done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ClusterError(f"{tool} failed (exit {done.returncode}): {' | '.join(tail)}")
        return done

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            f"-p {self.port}",
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are closed)."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return self._pg("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def destroy(self) -> None:
        """Stop the server if it runs and delete the cluster's folder."""
        with contextlib.suppress(ClusterError, OSError, subprocess.SubprocessError):
            if self.data.exists() and self.running():
                self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        self._sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _sql(self, statement: str) -> None:
        import psycopg  # only the fixtures need it; `run` stays standard-library only

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement.encode())


@contextlib.contextmanager
def cluster_for_tests(env: Mapping[str, str] | None = None) -> Iterator[PgCluster]:
    """The cluster the environment describes, else a new one destroyed on exit."""
    existing = PgCluster.from_env(os.environ if env is None else env)
    if existing is not None:
        yield existing
        return
    cluster = PgCluster.create()
    try:
        yield cluster
    finally:
        cluster.destroy()


def run(command: Sequence[str]) -> int:
    """Start a cluster, run `command` with it described in the environment, destroy it."""
    try:
        started = time.monotonic()
        cluster = PgCluster.create()
    except ClusterError as exc:
        _say(f"cannot start the PostgreSQL test server: {exc}")
        return 1
    _say(
        f"PostgreSQL test server on 127.0.0.1:{cluster.port} "
        f"({cluster.bindir.parent.name}, {time.monotonic() - started:.1f}s to start)"
    )

    def _terminate(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    try:
        return subprocess.call(list(command), env=dict(os.environ, **cluster.env()))
    finally:
        cluster.destroy()


def main(argv: Sequence[str]) -> int:
    if len(argv) >= 2 and argv[0] == "run" and argv[1] == "--" and len(argv) > 2:
        return run(argv[2:])
    print("usage: python tests/pg_cluster.py run -- COMMAND [ARGS...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
