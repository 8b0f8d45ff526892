"""Lab 05's partition row: one node of the cluster cut off from the others, each node a host of its own.

A kill or a freeze stops a node; a partition leaves it running, unheard. It needs the
nodes on separate hosts (queuelabs/cluster/netns.py: a network namespace per node number,
root only), so the row runs in a process of its own, `python -m queuelabs.chaos.partition
05`, with QUEUELABS_CLUSTER_NETNS set (the cluster's modules read where each node lives
when imported) and a run folder of its own (.run/netns/): it starts a fresh cluster in the
namespaces beside `make cluster`'s, runs the reference on it, cuts off the node holding
the queue's leader while tasks flow, heals it, counts, writes the row to
.run/netns/partition-row.json, then stops every node and deletes the namespaces.
`suite.py` starts it after the other rows when run as root, and says in one line that
it did not run otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter

from queuelabs import settings

CUT_SECONDS = 30  # longer than RabbitMQ's net_ticktime (10 s), a MongoDB election and a Sentinel failover
AFTER_SECONDS = 15
REJOIN_SECONDS = 60  # after the row is counted: the cluster whole again by itself
TITLE = f"PARTITION: the node holding the queue's leader cut off {CUT_SECONDS} s (nft drops all), then healed"
PREFIX = os.environ.get("QUEUELABS_NETNS_PREFIX", "qlnode")  # the namespaces: qlnode1, qlnode2, qlnode3
RUN_FOLDER = settings.RUN_DIR / "netns"
ROW_FILE = "partition-row.json"


def not_possible() -> str | None:
    """Why the row cannot run here, in one line, or None."""
    from queuelabs.cluster.netns import available

    return available()


def run_in_namespaces(lab_id: str) -> tuple | None:
    """Run the row in its own process; the row, or None when that process failed (its output says why)."""
    env = dict(os.environ, QUEUELABS_CLUSTER_NETNS=PREFIX, QUEUELABS_RUN_DIR=str(RUN_FOLDER))
    row_file = RUN_FOLDER / ROW_FILE
    row_file.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "queuelabs.chaos.partition", lab_id], env=env)
    if done.returncode != 0 or not row_file.exists():
        return None
    return tuple(json.loads(row_file.read_text()))


def roles(number: int) -> str:
    from queuelabs.cluster import mongodb, redis

    held = [f"RabbitMQ node {number}"]
    if mongodb.primary_number() == number:
        held.append("the MongoDB primary")
    if redis.primary_number() == number:
        held.append("the Redis primary")
    return ", ".join(held)


def row_partition(system) -> tuple[list[str], Counter]:
    from queuelabs.cluster import formed, netns
    from queuelabs.waiting import WaitTimeout, wait_until

    from .cluster_rows import Trickle, queue_node
    from .rows import queued_at_fault, submit_many

    backlog = submit_many(system, 20, iterations=10)
    with Trickle(system) as trickle:
        queued_at_fault(system, backlog)
        number = queue_node(system).number
        held = roles(number)
        netns.cut(number)
        print(f"[chaos]   cut off {netns.namespace(number)} ({held}): nft drops every packet in and out", flush=True)
        time.sleep(CUT_SECONDS)
        netns.heal(number)
        print(f"[chaos]   healed: the rule deleted; submitting {AFTER_SECONDS} s more", flush=True)
        time.sleep(AFTER_SECONDS)

    def rejoined() -> None:  # reported, not required: the namespaces go once the row is counted
        try:
            wait_until(lambda: formed.problem() is None, timeout=REJOIN_SECONDS, interval=2)
            print("[chaos]   counted: the cluster is whole again by itself", flush=True)
        except WaitTimeout:
            print(f"[chaos]   counted: not whole {REJOIN_SECONDS} s after healing: {formed.problem()}", flush=True)

    system.after_row.append(rejoined)

    return backlog + trickle.ids, Counter()


def main(lab_id: str) -> int:
    from queuelabs import cluster
    from queuelabs.cluster import netns
    from queuelabs.labs import find_lab
    from queuelabs.settings import DATA_DIR, RUN_DIR  # RUN_DIR is RUN_FOLDER here

    from .counting import run_row
    from .system import System

    if not netns.ENABLED:
        sys.exit("chaos: the partition row runs with QUEUELABS_CLUSTER_NETNS set (suite.py sets it)")
    lab = find_lab(lab_id)
    shutil.rmtree(DATA_DIR / "cluster", ignore_errors=True)  # a fresh cluster each time
    try:
        cluster.up()
        system = System(lab)
        try:
            system.up()
            try:
                line = run_row(system, TITLE, row_partition)
            finally:
                while system.after_row:
                    system.after_row.pop()()
        finally:
            system.down()
    finally:
        cluster.down()  # every node, then the namespaces and the bridge
    (RUN_DIR / ROW_FILE).write_text(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
