"""Linux network namespaces as stand-in hosts, for the multi-host test (tests/test_multihost.py).

    with Hosts(2) as hosts:
        a, b = hosts.namespaces
        subprocess.run(a.command(["python", "-c", "..."]))

Each namespace is one "host": its own loopback (up) and one veth pair to the test's own network
namespace (the host side keeps an address, so a server the test binds there is reachable from
the namespace, as another machine on the LAN would be). Pair i gets the /30 `subnet[4i..4i+3]`
of one /24 picked for the run (free on this machine), and a route to the whole /24 through its
veth, so a namespace also reaches the host-side addresses of the other pairs (the host answers
for all of them), never the internet. Names carry the pid, so parallel runs do not collide.

Leaving the block always deletes the namespaces and links, kills what still runs inside them
(only processes started in this run's namespaces, which no one else can enter), whatever the
test's outcome; `leftovers()` says what would remain. Needs root and iproute2's `ip`: without
them `HostsUnavailable` says so in one line (the test fails with it, it is never skipped).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from tests.pg_cluster import apt_install

# Where the run's /24 is picked: 8192 /24s away from the usual LAN and container ranges.
POOL = ipaddress.IPv4Network("10.224.0.0/11")
_SBIN = "/usr/sbin:/sbin:/usr/bin:/bin"


class HostsUnavailable(RuntimeError):
    """Namespaces cannot be made here (not root, no `ip`, no permission); one line."""


def ip_binary() -> str:
    """iproute2's `ip` (root's PATH has /usr/sbin; a test runner's may not)."""
    path = shutil.which("ip") or shutil.which("ip", path=_SBIN)
    if path is None:
        # As tests/pg_cluster.py does for PostgreSQL: a fresh Debian host gets the package.
        failed = apt_install("iproute2")
        path = shutil.which("ip") or shutil.which("ip", path=_SBIN)
        if path is None:
            raise HostsUnavailable(
                "the multi-host test needs iproute2's `ip` (Debian package 'iproute2'): "
                f"not found, and {failed or 'installing it did not provide it'}"
            )
    return path


@dataclass(frozen=True)
class Namespace:
    """One stand-in host: namespace `name`, reached over veth `host_link` <-> `ns_link`."""

    name: str
    host_link: str
    ns_link: str
    host_ip: str  # the test's side of the pair: bind servers here for this namespace
    ns_ip: str  # the namespace's own address

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside this namespace (`ip netns exec` setns()es, then execs: same pid)."""
        return [ip_binary(), "netns", "exec", self.name, *argv]


class Hosts:
    """`count` namespaces, each with a veth pair to the test's namespace (a context manager)."""

    def __init__(self, count: int, prefix: str = "fb") -> None:
        if not 1 <= count <= 63:
            raise ValueError("between 1 and 63 namespaces (one /30 each in a /24)")
        self.count = count
        # Interface names have at most 15 bytes: "fb" + 'h'/'n' + pid (<= 7 digits) + index.
        self.tag = f"{prefix}{os.getpid()}"
        self.namespaces: list[Namespace] = []
        self.subnet = ipaddress.IPv4Network("10.224.0.0/24")
        self._ip = ""

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Hosts:
        if os.geteuid() != 0:
            raise HostsUnavailable(
                "the multi-host test creates network namespaces and veth pairs: run it as root "
                f"(euid is {os.geteuid()})"
            )
        self._ip = ip_binary()
        try:
            self.subnet = self._free_subnet()
            for i in range(self.count):
                self._add(i)
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def _add(self, i: int) -> None:
        base = int(self.subnet.network_address) + 4 * i
        host_ip, ns_ip = str(ipaddress.ip_address(base + 1)), str(ipaddress.ip_address(base + 2))
        ns = Namespace(f"{self.tag}-{i}", f"{self.tag}h{i}", f"{self.tag}n{i}", host_ip, ns_ip)
        # Recorded before it exists, so that a failure half-way is still cleaned up.
        self.namespaces.append(ns)
        self._run("netns", "add", ns.name)
        self._run("link", "add", ns.host_link, "type", "veth", "peer", "name", ns.ns_link)
        self._run("link", "set", ns.ns_link, "netns", ns.name)
        self._run("addr", "add", f"{host_ip}/30", "dev", ns.host_link)
        self._run("link", "set", ns.host_link, "up")
        self._run("-n", ns.name, "link", "set", "lo", "up")
        self._run("-n", ns.name, "addr", "add", f"{ns_ip}/30", "dev", ns.ns_link)
        self._run("-n", ns.name, "link", "set", ns.ns_link, "up")
        self._run("-n", ns.name, "route", "add", str(self.subnet), "via", host_ip)

    def cleanup(self) -> None:
        """Kill what runs inside, delete the namespaces and the host-side links; never raises."""
        for ns in self.namespaces:
            self._kill_inside(ns.name)
            # Deleting the namespace destroys its end of the pair, and with it the host's end.
            self._run("netns", "delete", ns.name, check=False)
            if self._exists("link", ns.host_link):
                self._run("link", "delete", ns.host_link, check=False)

    def leftovers(self) -> list[str]:
        """This run's namespaces and links that still exist (empty after `cleanup`)."""
        found = []
        for ns in self.namespaces:
            if self._exists("netns", ns.name):
                found.append(f"namespace {ns.name}")
            if self._exists("link", ns.host_link):
                found.append(f"link {ns.host_link}")
        return found

    # ------------------------------------------------------------------ helpers

    def _kill_inside(self, name: str) -> None:
        # Only processes in this run's own namespaces: what the test started and left behind.
        listed = self._run("netns", "pids", name, check=False).stdout.split()
        pids = [int(p) for p in listed if p.isdigit()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if os.path.exists(f"/proc/{p}")]
            time.sleep(0.05)

    def _exists(self, kind: str, name: str) -> bool:
        if kind == "netns":
            return os.path.exists(f"/run/netns/{name}")
        return self._run("link", "show", name, check=False).returncode == 0

    def _free_subnet(self) -> ipaddress.IPv4Network:
        """A /24 of POOL overlapping no address or route here, starting from one the pid picks."""
        taken: list[ipaddress.IPv4Network] = []
        for what in (["-4", "-o", "addr", "show"], ["-4", "route", "show", "table", "all"]):
            for line in self._run(*what).stdout.splitlines():
                for word in line.split():
                    with contextlib.suppress(ValueError):
                        if word[0].isdigit() and ("/" in word or word.count(".") == 3):
                            taken.append(ipaddress.IPv4Network(word, strict=False))
        candidates = list(POOL.subnets(new_prefix=24))
        start = os.getpid() % len(candidates)
        for k in range(len(candidates)):
            subnet = candidates[(start + k) % len(candidates)]
            if not any(subnet.overlaps(t) for t in taken):
                return subnet
        raise HostsUnavailable(f"no free /24 left in {POOL} for the test namespaces")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self._ip or ip_binary(), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if check and done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()
            raise HostsUnavailable(
                f"`ip {' '.join(args)}` failed (exit {done.returncode}): "
                f"{why[-1] if why else 'no message'}"
            )
        return done
