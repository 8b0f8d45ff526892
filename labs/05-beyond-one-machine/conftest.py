"""Lab 05's fixtures: lab 04's, plus `nodes` (kill or freeze a RabbitMQ node, a MongoDB member or a
Redis server of `make cluster` and have it back after the test) and `queues_on_node_3`.

The real-component fixtures (api, worker, fresh_stack...) come from the testing
package and read this lab's lab.toml. Lab 04's own, which this lab runs unchanged
(`downstream`: the flaky payment service; `lab_worker`: a worker that charges it;
`charges`: the API), come from queuelabs/testing/payments.py, shared with lab 04.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager

import pytest

from queuelabs import faults
from queuelabs.processes import read_pid
from queuelabs.settings import TEST_VHOST
from queuelabs.testing.payments import charges, downstream, lab_worker

__all__ = ["charges", "downstream", "lab_worker"]


class Nodes:
    """Kill nodes of `make cluster` for real (SIGKILL, by pid); bring them back after the test."""

    def __init__(self):
        self.killed: list[str] = []

    def kill_rabbitmq(self, node) -> None:
        from queuelabs.cluster import rabbitmq

        pid = rabbitmq.beam_pid(node)
        if pid is None:
            pytest.fail(f"RabbitMQ node {node.number} is not running: make cluster", pytrace=False)
        os.kill(pid, signal.SIGKILL)
        self.killed.append(node.name)

    def mongodb_primary(self) -> int:
        """The number (1, 2, 3) of the replica set's primary member now."""
        from queuelabs.cluster import mongodb

        number = mongodb.primary_number()
        if number is None:
            pytest.fail(f"the replica set has no primary ({mongodb.member_states()}): make cluster", pytrace=False)
        return number

    def kill_mongodb(self, number: int) -> None:
        from queuelabs.cluster import mongodb

        os.kill(read_pid(mongodb.name(number)), signal.SIGKILL)
        self.killed.append(mongodb.name(number))

    def redis_primary(self) -> int:
        """The number (1, 2) of the Redis server the Sentinels name as the primary now."""
        from queuelabs.cluster import redis

        number = redis.primary_number()
        if number is None:
            pytest.fail("no Redis Sentinel names a primary: make cluster", pytrace=False)
        return number

    def kill_redis(self, number: int) -> None:
        from queuelabs.cluster import redis

        os.kill(read_pid(redis.server_name(number)), signal.SIGKILL)
        self.killed.append(redis.server_name(number))

    @contextmanager
    def _frozen(self, names: list[str]) -> Iterator[None]:
        """SIGSTOP these processes of `make cluster`, by the names their pid files carry; always thawed after."""
        with ExitStack() as stack:
            for name in names:
                stack.enter_context(faults.frozen(read_pid(name)))
            yield

    def frozen_mongodb(self, numbers: list[int]) -> AbstractContextManager[None]:
        """SIGSTOP these members (they answer nothing, replicate nothing); always thawed after the block."""
        from queuelabs.cluster import mongodb

        return self._frozen([mongodb.name(number) for number in numbers])

    def frozen_redis(self, numbers: list[int]) -> AbstractContextManager[None]:
        """SIGSTOP these Redis servers (a frozen replica copies nothing); always thawed after the block."""
        from queuelabs.cluster import redis

        return self._frozen([redis.server_name(number) for number in numbers])

    def restore(self) -> None:
        """`make cluster` again: the killed nodes come back and rejoin (the others are reused)."""
        if self.killed:
            from queuelabs import cluster

            cluster.up()


@pytest.fixture
def nodes():
    killer = Nodes()
    yield killer
    killer.restore()


@pytest.fixture
def queues_on_node_3(fresh_stack, celery_app):
    """Declare the graded code's task queues through node 3, so a queue (a classic one, or a quorum
    queue's leader) lives on a node that neither the API nor the worker (both on node 1 first) uses."""
    from kombu import Connection

    from queuelabs.cluster import rabbitmq

    node = rabbitmq.NODES[2]
    with Connection(f"amqp://guest:guest@127.0.0.1:{node.port}/{TEST_VHOST}", connect_timeout=10) as connection:
        for queue in celery_app.conf.task_queues:
            queue(connection.default_channel).declare()
    return node
