"""`make cluster`: the stack replicated on this machine, the ground lab 05 stands on.

- a RabbitMQ cluster of three nodes (rabbitmq.py; rabbitmq_forming.py joins them),
- a MongoDB replica set of three members (mongodb.py),
- Redis with one replica, watched by three Sentinels (redis.py),

all on 127.0.0.1 (or each node number a host of its own: netns.py), on the ports of settings.CLUSTER (beside the single-node
stack, never instead of it), with data under .run/data/cluster/ and logs in
.run/logs/cluster-*. Every process is tracked by a pid file and stopped by pid.
Starting again reuses what runs and starts what does not (a node killed in an
experiment comes back and rejoins). Ready means a real answer from each: the
RabbitMQ cluster lists three running nodes, the replica set has a PRIMARY and
two SECONDARY and acknowledges a majority write within 2 s, every Sentinel
names the same primary and the replica is linked.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor

from ..errors import StackError
from ..native import ensure_installed
from ..processes import port_open, read_pid, resume_if_frozen
from ..settings import CLUSTER, ensure_run_dirs
from . import mongodb, netns, rabbitmq, rabbitmq_forming, redis

# Every process of the cluster (its pid file's name) and the ports it listens on.
PROCESSES = {**rabbitmq.PORTS, **mongodb.PORTS, **redis.PORTS}
# Three Erlang VMs and three mongod booting at once on a loaded two-core laptop.
START_TIMEOUT = 240.0


def say(message: str) -> None:
    # One write per line: the three parts start side by side, in threads.
    sys.stdout.write(f"[cluster] {message}\n")
    sys.stdout.flush()


def running() -> bool:
    """Whether any process of the cluster runs."""
    return any(read_pid(name) for name in PROCESSES)


def _start_rabbitmq_node(node: rabbitmq.Node) -> bool:
    if rabbitmq.start(node):
        say(f"RabbitMQ node {node.erlang_name} starting on {node.host}:{node.port}")
        return True
    say(f"RabbitMQ node {node.erlang_name} already running: reused")
    return False


def _rabbitmq_up() -> None:
    seed = rabbitmq.NODES[0]
    # A new node joins node 1 as it boots, so it starts once node 1 answers. Nodes that have
    # run before find their cluster from their data and start together (a node that stopped
    # before the others waits for them at boot).
    joiners = [node for node in rabbitmq.NODES[1:] if rabbitmq.is_new(node) and read_pid(node.name) is None]
    started = [node for node in rabbitmq.NODES if node not in joiners and _start_rabbitmq_node(node)]
    if joiners and seed in started:
        rabbitmq.await_running([seed], START_TIMEOUT, say)
        started.remove(seed)
    started += [node for node in joiners if _start_rabbitmq_node(node)]
    rabbitmq.await_running(started, START_TIMEOUT, say)
    rabbitmq_forming.form_cluster(START_TIMEOUT, say)
    say("RabbitMQ  ready: the cluster lists 3 running nodes")


def _mongodb_up() -> None:
    for number in (1, 2, 3):
        if mongodb.start(number):
            say(f"MongoDB member {number} starting on {mongodb.MEMBERS[number - 1]}")
        else:
            say(f"MongoDB member {number} already running on {mongodb.MEMBERS[number - 1]}: reused")
    mongodb.initiate_and_wait(START_TIMEOUT)
    say("MongoDB   ready: one PRIMARY and two SECONDARY, a majority write acknowledged")


def _redis_up() -> None:
    started = redis.start_all()
    for name in started:
        say(f"{name} starting")
    if len(started) < len(redis.PORTS):
        say("Redis and Sentinels: the ones already running are reused")
    redis.wait_settled(START_TIMEOUT)
    say("Redis     ready: the Sentinels agree on the primary and the replica is linked")


def _check_ports_free() -> None:
    """Before starting anything: a port of a node that is not running must be free."""
    if netns.ENABLED:  # the nodes' own namespaces, which nothing else uses
        return
    for name, ports in PROCESSES.items():
        taken = [port for port in ports if read_pid(name) is None and port_open(port)]
        if taken:
            raise StackError(
                f"something else listens on 127.0.0.1:{taken[0]}, a port of `make cluster` ({name}): "
                "stop it, then `make cluster` again"
            )


def answering_elsewhere() -> bool:
    """Whether a cluster this command did not start (docker-compose.yml's `cluster` profile) answers
    on settings.CLUSTER's ports as one: no pid file of ours, and every answer `up` waits for."""
    from .formed import problem

    return (
        not netns.ENABLED and not running() and any(port_open(port) for port in CLUSTER.rabbitmq) and problem() is None
    )


def up() -> None:
    """Start what is not running and wait until all three parts answer as one cluster each."""
    if answering_elsewhere():
        say("a cluster this command did not start answers on its ports (docker compose --profile cluster): reused")
        return
    ensure_run_dirs()
    ensure_installed(["rabbitmq", "redis", "mongodb"])
    if netns.ENABLED:
        netns.setup()
        say(f"each node a host of its own: namespaces {', '.join(netns.namespace(n) for n in netns.NUMBERS)}")
    _check_ports_free()
    for name in PROCESSES:
        if (pid := read_pid(name)) and resume_if_frozen(pid):
            say(f"{name} was frozen (SIGSTOP): resumed it")
    started = time.monotonic()
    # The three parts are independent: start and wait for them side by side.
    with ThreadPoolExecutor(3) as pool:
        for future in [pool.submit(part) for part in (_rabbitmq_up, _mongodb_up, _redis_up)]:
            future.result()
    say(f"ready in {time.monotonic() - started:.0f} s")


def down() -> None:
    """Stop every process of the cluster, by pid, all side by side (each takes seconds alone)."""

    def stop_rabbitmq(node: rabbitmq.Node) -> None:
        if rabbitmq.stop(node):
            say(f"RabbitMQ node {node.erlang_name} stopped")

    def stop_mongodb(number: int) -> None:
        if mongodb.stop(number):
            say(f"MongoDB member {number} stopped")

    with ThreadPoolExecutor(6) as pool:
        jobs = [pool.submit(stop_rabbitmq, node) for node in rabbitmq.NODES]
        jobs += [pool.submit(stop_mongodb, number) for number in (1, 2, 3)]
        for name in redis.stop_all():
            say(f"{name} stopped")
        for job in jobs:
            job.result()
    rabbitmq.stop_epmd()
    if netns.ENABLED:  # and their epmd: the namespaces go
        netns.teardown()


def status_rows() -> list[tuple[str, str, str]]:
    """(what, address, state and role) for every node of the cluster."""
    return rabbitmq.status_rows() + mongodb.status_rows() + redis.status_rows()
