"""Lab 05's rows: a node of `make cluster` lost, for real, while tasks flow.

Each row queues a backlog, keeps submitting (one task every 0.2 s) before,
during and after the fault, and causes it once the worker is at work with
tasks still queued. A killed node stays down until the row is counted (one
machine lost, not restarted), then `make cluster` brings it back before the
next row. The same kill against a copy of the reference whose queues are
classic (exercise 5.1's starter) shows what the quorum queues buy.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable

from queuelabs import cluster, faults
from queuelabs.cluster import mongodb, rabbitmq, redis
from queuelabs.labs import Lab
from queuelabs.mutants import replace_once
from queuelabs.processes import read_pid
from queuelabs.settings import RUN_DIR

from .rows import queued_at_fault, submit_many
from .system import VHOST, System

HOLD_SECONDS = 15  # submitting with the node gone: longer than a MongoDB election or a Sentinel failover
AFTER_SECONDS = 5  # and a little after
FROZEN_SECONDS = 20
CLASSIC = {  # exercise 5.1 undone: the starter's classic queues on a direct exchange
    'REPLICATED = {"x-queue-type": "quorum"}': "REPLICATED: dict = {}",
    'EXCHANGE_TYPE = "topic"': 'EXCHANGE_TYPE = "direct"',
    # and 5.3's limit, a quorum queue's argument that a classic queue does not take
    'POISON_LIMIT = {"x-delivery-limit": 3}': "POISON_LIMIT: dict = {}",
}

RABBITMQ_LEADER_KILLED = "RabbitMQ kill -9 of the node holding the queue's leader, kept down"
MONGODB_PRIMARY_KILLED = "MongoDB kill -9 of the primary, kept down"
REDIS_PRIMARY_KILLED = "Redis kill -9 of the primary, kept down (Sentinel fails over)"
RABBITMQ_LEADER_FROZEN = f"RabbitMQ node holding the queue's leader frozen {FROZEN_SECONDS} s"
CLASSIC_NODE_KILLED = "CLASSIC queue: RabbitMQ kill -9 of its node, kept down"
# What lab 05 exists to show: a classic queue's messages die with its node (exercise 5.1 fixes it).
SHOWS_LOSS = {
    CLASSIC_NODE_KILLED: "loses work with classic queues, as the lesson says: the quorum queues of exercise 5.1 keep it"
}


class Trickle:
    """`with Trickle(system) as trickle:` one submission every `interval` s in a thread; `trickle.ids`."""

    def __init__(self, system: System, iterations: int = 4, interval: float = 0.2):
        self.system, self.iterations, self.interval = system, iterations, interval
        self.ids: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._submit, daemon=True)

    def _submit(self) -> None:
        while not self.stop.is_set():
            if task_id := self.system.submit(self.iterations, data=f"trickle {len(self.ids)}"):
                self.ids.append(task_id)
            self.stop.wait(self.interval)

    def __enter__(self) -> Trickle:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(30)


def queue_node(system: System) -> rabbitmq.Node:
    """The node holding the work queue: a quorum queue's leader, a classic queue's only home."""
    info = system.queue_info("payments", system.vhost) or {}
    name = info.get("leader") or info.get("node")
    if not name:
        raise SystemExit(f"chaos: RabbitMQ does not say which node holds the payments queue ({info})")
    return rabbitmq.node_named(name)


def kill_and_hold(system: System, kill: Callable[[], str]) -> tuple[list[str], Counter]:
    """The row's shape: a backlog, a trickle, the fault (`kill` returns what it did), held while submitting."""
    backlog = submit_many(system, 20, iterations=10)  # about 0.5 s each: 5 s of work on 2 processes
    with Trickle(system) as trickle:
        queued_at_fault(system, backlog)
        print(f"[chaos]   {kill()}", flush=True)
        time.sleep(HOLD_SECONDS + AFTER_SECONDS)
    return backlog + trickle.ids, Counter()


def brought_back() -> None:
    print("[chaos]   counted: `make cluster` brings the node back", flush=True)
    cluster.up()


def killed(system: System, pid: int, what: str) -> str:
    """kill -9 of one server; `make cluster` brings it back once the row is counted."""
    os.kill(pid, signal.SIGKILL)
    system.after_row.append(brought_back)
    return f"killed {what}"


def row_rabbitmq_leader(system: System) -> tuple[list[str], Counter]:
    def kill() -> str:
        node = queue_node(system)
        return killed(
            system, rabbitmq.beam_pid(node), f"RabbitMQ node {node.erlang_name}, which held the payments queue"
        )

    return kill_and_hold(system, kill)


def row_mongodb_primary(system: System) -> tuple[list[str], Counter]:
    def kill() -> str:
        number = mongodb.primary_number()
        if number is None:
            raise SystemExit("chaos: the MongoDB replica set has no primary: make cluster")
        return killed(system, read_pid(mongodb.name(number)), f"MongoDB member {number}, the primary")

    return kill_and_hold(system, kill)


def row_redis_primary(system: System) -> tuple[list[str], Counter]:
    def kill() -> str:
        number = redis.primary_number()
        if number is None:
            raise SystemExit("chaos: no Sentinel names a Redis primary: make cluster")
        return killed(system, read_pid(redis.server_name(number)), f"Redis server {number}, the primary")

    return kill_and_hold(system, kill)


def row_rabbitmq_frozen(system: System) -> tuple[list[str], Counter]:
    backlog = submit_many(system, 20, iterations=10)
    with Trickle(system) as trickle:
        queued_at_fault(system, backlog)
        node = queue_node(system)
        with faults.frozen(rabbitmq.beam_pid(node)):
            print(f"[chaos]   froze RabbitMQ node {node.erlang_name} (SIGSTOP), which held the queue", flush=True)
            time.sleep(FROZEN_SECONDS)
        print(f"[chaos]   thawed it (SIGCONT); submitting {HOLD_SECONDS} s more", flush=True)
        time.sleep(HOLD_SECONDS)
    return backlog + trickle.ids, Counter()


def cluster_rows(system: System) -> list[tuple[str, Callable]]:
    return [
        (RABBITMQ_LEADER_KILLED, row_rabbitmq_leader),
        (MONGODB_PRIMARY_KILLED, row_mongodb_primary),
        (REDIS_PRIMARY_KILLED, row_redis_primary),
        (RABBITMQ_LEADER_FROZEN, row_rabbitmq_frozen),
    ]


def classic_rows(system: System) -> list[tuple[str, Callable]]:
    return [(CLASSIC_NODE_KILLED, row_rabbitmq_leader)]


def classic_reference(lab: Lab):
    """A copy of the reference with exercise 5.1 undone: classic queues, each on the node that declared it."""
    tree = RUN_DIR / "chaos" / f"lab{lab.id}-classic"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(lab.solution_dir, tree, ignore=shutil.ignore_patterns("__pycache__"))
    target = tree / "app" / "celery_app.py"
    text = target.read_text()
    for find, replace in CLASSIC.items():
        text = replace_once(
            text,
            find,
            replace,
            label="chaos's classic queues",
            file="app/celery_app.py",
            declared_in="queuelabs/chaos/cluster_rows.py",
        )
    target.write_text(text)
    return tree


def phases(lab: Lab) -> list[tuple[System, Callable]]:
    classic = System(lab, code_dir=classic_reference(lab), vhost=f"{VHOST}-classic", label="-classic")
    return [(System(lab), cluster_rows), (classic, classic_rows)]
