"""How three RabbitMQ nodes become one cluster, and stay one: a node that did not join node 1 at its
first boot joins with rabbitmqctl; one running cut off from the others (a partition) is restarted.
"""

from __future__ import annotations

import json

from ..errors import StackError
from ..processes import read_pid
from ..waiting import WaitTimeout, wait_until
from .rabbitmq import NODES, Node, api, await_running, ctl, start, stop


def cluster_status(node: Node) -> dict:
    done = ctl(node, "cluster_status", "--formatter", "json", timeout=60)
    if done.returncode != 0:
        raise StackError(f"rabbitmqctl cluster_status on node {node.number} failed: {done.stderr.strip()[:200]}")
    return json.loads(done.stdout)


def _cluster_status_or_none(node: Node) -> dict | None:
    """None while the node cannot answer yet (still booting)."""
    try:
        return cluster_status(node)
    except StackError:
        return None


def join(node: Node, seed: Node) -> None:
    """Make `node` a member of `seed`'s cluster (it must hold no data of its own yet)."""
    for args in (("stop_app",), ("join_cluster", seed.erlang_name), ("start_app",)):
        done = ctl(node, *args)
        if done.returncode != 0:
            raise StackError(
                f"RabbitMQ node {node.number}: rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()[:200]}"
            )


def form_cluster(timeout: float, say=print) -> None:
    """Wait until all three nodes run as one cluster; a node that did not join node 1 at its
    first boot (node 1 did not answer yet) joins now with rabbitmqctl, and one running cut off
    from the others (a partition, see `partitioned`) is restarted, which makes it rejoin."""
    seed = NODES[0]

    def all_running() -> bool:  # asked afresh each time: a node that was running may have stopped since
        answer = _cluster_status_or_none(seed) or {}
        if len(answer.get("running_nodes", [])) == len(NODES):
            return True
        for node in partitioned():
            say(f"RabbitMQ node {node.erlang_name} runs cut off from the others (a partition): restarting it")
            stop(node)
            start(node)
            await_running([node], timeout, say)
        return False

    try:
        status = wait_until(lambda: _cluster_status_or_none(seed), timeout=timeout, interval=1.0, what="node 1")
        for node in NODES[1:]:
            if node.erlang_name not in status.get("disk_nodes", []):
                join(node, seed)
        wait_until(all_running, timeout=timeout, interval=1.0)
    except WaitTimeout:
        raise StackError(
            f"the RabbitMQ cluster does not list 3 running nodes after {timeout:g} s: see .run/logs/cluster-rabbitmq-*"
        ) from None


def partitioned() -> list[Node]:
    """The nodes running cut off from the others, to restart; empty when the cluster is whole.

    A node frozen (SIGSTOP) longer than Erlang's net_ticktime (60 s) is called down by the
    others; thawed, it runs on as a cluster of its own, and RabbitMQ's default partition handling
    (ignore) leaves the split as it is. The nodes that see fewer running nodes than the others
    do are the cut-off side."""
    seen: dict[Node, int] = {}
    split = False
    for node in NODES:
        if read_pid(node.name) is None:
            continue
        try:
            entries = api(node, "nodes")
        except (OSError, ValueError):
            continue
        seen[node] = sum(1 for entry in entries if entry.get("running"))
        split = split or any(entry.get("partitions") for entry in entries)
    if not split or not seen:
        return []
    return [node for node, count in seen.items() if count < max(seen.values())]
