"""Three RabbitMQ nodes on this machine, joined into one cluster.

Debian's rabbitmq-server, started three times with its own node name, ports,
data folder and log folder, all sharing one Erlang cookie (the same HOME) and
a port mapper of their own (epmd on CLUSTER.epmd, on 127.0.0.1). The first
time, nodes 2 and 3 boot after node 1 and join it by themselves (peer
discovery); one that did not is joined with `rabbitmqctl join_cluster`
(rabbitmq_forming.py).
Afterwards each remembers its cluster in its data folder and finds the others
when it starts.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil

from ..errors import StackError
from ..native import RABBITMQ_CTL, RABBITMQ_SERVER
from ..processes import port_open, read_pid, start_detached, stop_detached
from ..settings import CLUSTER, DATA_DIR, LOG_DIR
from ..waiting import WaitTimeout, wait_until
from .liveness import not_running
from .netns import ENABLED as NODES_ON_OWN_HOSTS
from .netns import address, inside, namespace

BASE = DATA_DIR / "cluster" / "rabbitmq"
# Hosts of their own (netns.py): a node that loses sight of the others must stop serving, not
# run on as a cluster of its own. A node whose peers stay silent for net_ticktime (60 s by
# default) is called down; with pause_minority the side with fewer than half the nodes pauses
# (its listeners close) until it sees a majority again, then rejoins by itself.
NET_TICKTIME = 10


@dataclass(frozen=True)
class Node:
    number: int  # 1, 2, 3

    @property
    def name(self) -> str:  # the pid file and log of this node
        return f"cluster-rabbitmq-{self.number}"

    @property
    def erlang_name(self) -> str:
        return f"cluster{self.number}@{namespace(self.number) if NODES_ON_OWN_HOSTS else 'localhost'}"

    @property
    def host(self) -> str:
        return address(self.number)

    @property
    def port(self) -> int:
        return CLUSTER.rabbitmq[self.number - 1]

    @property
    def management_port(self) -> int:
        return CLUSTER.rabbitmq_management[self.number - 1]

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}//"


NODES = [Node(1), Node(2), Node(3)]
PORTS = {  # per process
    node.name: (node.port, node.management_port, CLUSTER.rabbitmq_distribution[node.number - 1]) for node in NODES
}


def node_named(erlang_name: str) -> Node:
    return next(node for node in NODES if node.erlang_name == erlang_name)


def failover_url(vhost: str = "") -> str:
    """Every node in one broker URL: Celery and kombu try them in order."""
    return ";".join(f"amqp://guest:guest@{node.host}:{node.port}/{vhost}" for node in NODES)


def _folder(node: Node) -> Path:
    return BASE / f"node-{node.number}"


def _write_config(node: Node) -> None:
    (BASE / "home").mkdir(parents=True, exist_ok=True)
    _folder(node).mkdir(parents=True, exist_ok=True)
    # Loopback only, as the single node: the guest user and the UI never face a network. As hosts
    # of their own, on the namespaces' private bridge, which only this machine's root reaches.
    own_hosts = (
        "loopback_users = none\ncluster_partition_handling = pause_minority\n"
        if NODES_ON_OWN_HOSTS
        else "loopback_users.guest = true\n"
    )
    (_folder(node) / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = {node.host}:{node.port}\n"
        f"management.tcp.ip = {node.host}\n"
        f"management.tcp.port = {node.management_port}\n"
        f"{own_hosts}"
        # Peer discovery: on its first boot a new node joins node 1's cluster by itself;
        # node 1, listing only itself, starts alone. Later boots read the data folder.
        "cluster_formation.peer_discovery_backend = classic_config\n"
        f"cluster_formation.classic_config.nodes.1 = {NODES[0].erlang_name}\n"
    )


def is_new(node: Node) -> bool:
    """A node that has never booted: it has no data folder yet."""
    return not (_folder(node) / "mnesia").exists()


def _erl_args(node: Node) -> str:
    ip = node.host.replace(".", ",")
    ticktime = f" -kernel net_ticktime {NET_TICKTIME}" if NODES_ON_OWN_HOSTS else ""
    return f"-kernel inet_dist_use_interface {{{ip}}}{ticktime}"


def _env(node: Node) -> dict[str, str]:
    """What rabbitmq-server and rabbitmqctl need to find this node and no other (rabbitmqctl runs
    as the node's neighbour: in its namespace, when the nodes are hosts of their own)."""
    folder = _folder(node)
    return dict(
        os.environ,
        HOME=str(BASE / "home"),  # one Erlang cookie for the three nodes and rabbitmqctl
        RABBITMQ_NODENAME=node.erlang_name,
        RABBITMQ_NODE_PORT=str(node.port),
        RABBITMQ_DIST_PORT=str(CLUSTER.rabbitmq_distribution[node.number - 1]),
        RABBITMQ_MNESIA_BASE=str(folder / "mnesia"),
        RABBITMQ_LOG_BASE=str(LOG_DIR / node.name),
        RABBITMQ_CONFIG_FILE=str(folder / "rabbitmq.conf"),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(folder / "enabled_plugins"),
        RABBITMQ_ENABLED_PLUGINS="rabbitmq_management",
        ERL_EPMD_PORT=str(CLUSTER.epmd),
        ERL_EPMD_ADDRESS=node.host,  # and loopback, which epmd always adds
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=_erl_args(node),
        RABBITMQ_CTL_ERL_ARGS=_erl_args(node),
    )


def ctl(node: Node, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """rabbitmqctl against one node (each call starts an Erlang VM: a second or two)."""
    command = inside(node.number, [RABBITMQ_CTL, "-n", node.erlang_name, *args])
    (BASE / "home").mkdir(parents=True, exist_ok=True)  # its cookie; a crash dump goes to BASE
    try:
        return subprocess.run(command, cwd=BASE, env=_env(node), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise StackError(
            f"rabbitmqctl {' '.join(args)} got no answer from RabbitMQ node {node.number} in {timeout:g} s: "
            f"see .run/logs/{node.name}.log"
        ) from None


def start(node: Node) -> bool:
    """Start the node unless it runs; True when it was started now."""
    if read_pid(node.name) is not None:
        return False
    _write_config(node)
    start_detached(node.name, inside(node.number, [RABBITMQ_SERVER]), cwd=BASE, env=_env(node))
    return True


# How often a node that died while booting is started again (see await_running).
BOOT_RETRIES = 2


def await_running(nodes: list[Node], timeout: float, say=print) -> None:
    """Wait until every node of `nodes` has booted. Nodes that ran before boot together, each waiting
    (up to 5 minutes) for the tables of the node that stopped last; RabbitMQ 3.10 sometimes kills a
    node that syncs its feature flags with another one booting at the same instant
    (`incompatible_feature_flags ... badmap`), and the others would then wait for it in vain. Such a
    node is started again, BOOT_RETRIES times at most."""
    waiting, retries = list(nodes), dict.fromkeys(nodes, BOOT_RETRIES)

    def booted() -> bool:
        for node in list(waiting):
            if read_pid(node.name) is None:
                if not retries[node]:
                    raise StackError(f"RabbitMQ node {node.number} exited at start-up: see .run/logs/{node.name}.log")
                retries[node] -= 1
                say(f"RabbitMQ node {node.erlang_name} exited while booting: starting it again")
                start(node)
            elif ctl(node, "await_startup", "--timeout", "10").returncode == 0:  # 69 until registered with epmd
                waiting.remove(node)
        return not waiting

    try:
        wait_until(booted, timeout=timeout, interval=1.0)
    except WaitTimeout:
        names = ", ".join(str(node.number) for node in waiting)
        raise StackError(
            f"RabbitMQ node(s) {names} did not start within {timeout:g} s: see .run/logs/cluster-rabbitmq-*.log"
        ) from None


def stop(node: Node) -> bool:
    if read_pid(node.name) is not None:
        try:
            ctl(node, "stop", timeout=60)
        except StackError:  # still booting (waiting for the others' tables), it answers no rabbitmqctl
            pass  # stopped by its pid below
    return stop_detached(node.name)


def stop_epmd() -> None:
    """The cluster's own port mapper daemonises itself: stop it after the nodes (epmd -kill
    refuses while a node is still registered with it)."""
    if not port_open(CLUSTER.epmd):
        return
    epmd = next(Path("/usr/lib/erlang").glob("erts-*/bin/epmd"), None)
    if epmd is not None:
        env = dict(os.environ, ERL_EPMD_PORT=str(CLUSTER.epmd))
        subprocess.run([str(epmd), "-kill"], env=env, capture_output=True, timeout=10)


def beam_pid(node: Node) -> int | None:
    """The node's Erlang VM (beam.smp), below its start-up script: what a kill -9 must hit."""
    pid = read_pid(node.name)
    if pid is None:
        return None
    for proc in psutil.Process(pid).children(recursive=True):
        if proc.name().startswith("beam"):
            return proc.pid
    return None


def api(node: Node, path: str, timeout: float = 3.0):
    """GET from a node's management API (guest / guest on loopback)."""
    request = urllib.request.Request(f"http://{node.host}:{node.management_port}/api/{path}")
    request.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.load(reply)


def any_api(path: str):
    """The answer of the first node whose management API answers, or None."""
    for node in NODES:
        try:
            return api(node, path)
        except (OSError, ValueError):
            continue
    return None


def status_rows() -> list[tuple[str, str, str]]:
    """(node, address, state) for each node, as the cluster sees it."""
    known = {entry["name"]: entry.get("running", False) for entry in any_api("nodes") or []}
    rows = []
    for node in NODES:
        state = not_running(node.name, node.port, node.host)
        if state is None:
            state = "running" if known.get(node.erlang_name) else "starting or not clustered"
        where = f"{node.host}:{node.port}  UI http://{node.host}:{node.management_port}"
        rows.append((f"RabbitMQ {node.erlang_name}", where, state))
    return rows


def queue_leader(vhost: str, queue: str) -> Node | None:
    """The node that holds a quorum queue's leader (None when no API answers)."""
    info = any_api(f"queues/{quote(vhost, safe='')}/{quote(queue, safe='')}")
    return node_named(info["leader"]) if info and info.get("leader") else None
