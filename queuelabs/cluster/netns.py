"""The cluster's nodes as hosts of their own: one network namespace per node number (root only).

Off by default: `make cluster` runs every node on 127.0.0.1. With QUEUELABS_CLUSTER_NETNS set
to a prefix (the partition row of `make chaos LAB=05` sets it to `qlnode`, or to
QUEUELABS_NETNS_PREFIX), node N of each kind (RabbitMQ node N, MongoDB member N, Redis server N, Sentinel N)
runs in the namespace `<prefix>N` at 10.77.0.N, on its usual port. Each namespace has one veth,
plugged into a bridge at 10.77.0.254 in the namespace that runs the command, where the lab's API
and workers run and reach every node. The Erlang nodes are `clusterN@<prefix>N`: each namespace
has its own hosts file (/etc/netns/<prefix>N/hosts, which `ip netns exec` lays over /etc/hosts)
naming the three, and its own epmd.

A partition is a firewall rule, not a dead process: `cut(n)` makes nft drop every packet in
and out of node N's veth (no reset, no refusal: silence, as a pulled cable), `heal(n)` deletes
the rule. The node keeps running and sees nobody. Debian's iproute2 and nft only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from ..errors import StackError
from ..settings import HOST

PREFIX = os.environ.get("QUEUELABS_CLUSTER_NETNS", "")
ENABLED = bool(PREFIX)
SUBNET = "10.77.0"
GATEWAY = f"{SUBNET}.254"  # the bridge: where the API and workers are seen from
NUMBERS = (1, 2, 3)
TABLE = "partition"  # the nft table `cut` adds in a node's namespace
NEEDS = "network namespaces (ip netns, nft) need root"


def address(number: int) -> str:
    """Where node `number` of any kind listens: its own address, or 127.0.0.1 when all share one host."""
    return f"{SUBNET}.{number}" if ENABLED else HOST


def namespace(number: int) -> str:
    return f"{PREFIX}{number}"


def bridge() -> str:
    return f"{PREFIX}br"


def veth(number: int) -> str:  # its end on the bridge; the node's end is eth0
    return f"{PREFIX}v{number}"


def inside(number: int, argv: list[str]) -> list[str]:
    """`argv` run as node `number`: in its namespace when the nodes are hosts of their own."""
    return ["ip", "netns", "exec", namespace(number), *argv] if ENABLED else argv


def hosts_file(number: int) -> Path:
    return Path("/etc/netns") / namespace(number) / "hosts"


def available() -> str | None:
    """None when this process can make namespaces, else why not, in one line."""
    if os.geteuid() != 0:
        return NEEDS
    missing = [tool for tool in ("ip", "nft") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not installed (apt-get install iproute2 nftables)" if missing else None


def _run(*argv: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise StackError(f"{' '.join(argv)} failed: {done.stderr.strip()[:200]}")
    return done


def exists(number: int) -> bool:
    return Path("/run/netns", namespace(number)).exists()


def setup() -> None:
    """The bridge and one namespace per node number, each with its veth and address (kept if made)."""
    if reason := available():
        raise StackError(f"the cluster's nodes as hosts of their own: {reason}")
    if _run("ip", "link", "show", bridge(), check=False).returncode != 0:
        _run("ip", "link", "add", bridge(), "type", "bridge")
        _run("ip", "addr", "add", f"{GATEWAY}/24", "dev", bridge())
        _run("ip", "link", "set", bridge(), "up")
    names = "".join(f"{SUBNET}.{n} {namespace(n)}\n" for n in NUMBERS)
    for number in NUMBERS:
        hosts_file(number).parent.mkdir(parents=True, exist_ok=True)
        hosts_file(number).write_text(f"127.0.0.1 localhost\n{names}")
        if exists(number):
            continue
        ns = namespace(number)
        _run("ip", "netns", "add", ns)
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run("ip", "link", "add", veth(number), "type", "veth", "peer", "name", "eth0", "netns", ns)
        _run("ip", "link", "set", veth(number), "master", bridge(), "up")
        _run("ip", "-n", ns, "addr", "add", f"{address(number)}/24", "dev", "eth0")
        _run("ip", "-n", ns, "link", "set", "eth0", "up")


def teardown() -> None:
    """Stop whatever still runs in the namespaces (epmd daemonises itself), then delete them and the bridge."""
    for number in NUMBERS:
        if not exists(number):
            continue
        pids = _run("ip", "netns", "pids", namespace(number), check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        _run("ip", "netns", "delete", namespace(number), check=False)  # its veth goes with it
        shutil.rmtree(hosts_file(number).parent, ignore_errors=True)
    _run("ip", "link", "delete", bridge(), check=False)


def cut(number: int) -> None:
    """Node `number` hears nobody and nobody hears it: nft drops every packet through its eth0."""
    ns = namespace(number)
    rules = (
        f"table inet {TABLE} {{\n"
        '  chain in { type filter hook input priority 0; iifname "eth0" drop; }\n'
        '  chain out { type filter hook output priority 0; oifname "eth0" drop; }\n'
        "}\n"
    )
    _run("ip", "netns", "exec", ns, "nft", "-f", "-", stdin=rules)


def heal(number: int) -> None:
    _run("ip", "netns", "exec", namespace(number), "nft", "delete", "table", "inet", TABLE, check=False)
