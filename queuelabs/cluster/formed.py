"""Has the cluster formed? The same answers `make cluster` waits for, asked of whatever runs on
settings.CLUSTER's ports: the native processes, or docker-compose.yml's `cluster` profile.

    python -m queuelabs.cluster.formed            exit 0 when formed, else one line on stderr
    python -m queuelabs.cluster.formed --form     initiate the replica set once, wait, then stay up

In compose, the `cluster-formed` container runs the second (the three mongod cannot initiate
their own set) in the cluster's network namespace, where every node is on 127.0.0.1 at its
native port, and its health check runs the first: `up --wait` returns once all three parts
answer as one cluster each. Light on imports: no CLI, no stack.
"""

from __future__ import annotations

import signal
import sys

from ..errors import StackError
from ..settings import CLUSTER
from .mongodb import initiate_and_wait, not_ready
from .rabbitmq import NODES, any_api
from .redis import not_settled

# Three Erlang VMs and three mongod booting at once on a loaded two-core laptop.
FORM_TIMEOUT = 240.0


def problem() -> str | None:
    """None when all three parts answer as one cluster each, else what is still missing."""
    nodes = any_api("nodes") or []
    running = sorted(entry["name"] for entry in nodes if entry.get("running"))
    if len(running) < len(NODES):
        return f"RabbitMQ: {len(running)} of {len(NODES)} nodes run in the cluster ({', '.join(running)})"
    if any(entry.get("partitions") for entry in nodes):
        return "RabbitMQ: the nodes are partitioned (each side runs as a cluster of its own)"
    if reason := not_ready():
        return f"MongoDB: {reason}"
    if reason := not_settled():
        return f"Redis: {reason}"
    return None


def form() -> None:
    """Initiate the replica set if it never was (a new set: every member's data is empty), wait
    for one PRIMARY and two SECONDARY acknowledging a majority write, then stay up: compose's
    health check asks `problem()`."""
    try:
        initiate_and_wait(FORM_TIMEOUT)
    except StackError as exc:
        sys.exit(f"cluster-formed: {exc}")
    print(
        f"cluster-formed: the replica set has a PRIMARY and two SECONDARY and acknowledges majority writes; RabbitMQ on {CLUSTER.rabbitmq}, "
        f"Sentinels on {CLUSTER.sentinel}: `docker compose ps` shows when the whole cluster is healthy",
        flush=True,
    )
    signal.pause()  # until compose stops the container (SIGTERM)


if __name__ == "__main__":
    if sys.argv[1:] == ["--form"]:
        form()
    elif reason := problem():
        sys.exit(reason)
