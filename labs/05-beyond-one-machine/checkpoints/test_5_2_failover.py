"""Exercise 5.2: a kill -9 of the RabbitMQ node the API and the worker use costs seconds of 503, no task."""

import time

import pytest

from queuelabs.cluster import rabbitmq
from queuelabs.testing.checks import patience


def first_accepted(
    charges, limit: float, most_refusals: int, data: str = "after the kill"
) -> tuple[str | None, float, int]:
    """Submit until one is accepted: (its task id or None, seconds it took, how many 503s meanwhile).
    Gives up after `limit` seconds AND `most_refusals` refusals: a publisher that fails over is
    refused a few times at most (one per pooled connection that was on the dead node)."""
    started, refused = time.monotonic(), 0
    while time.monotonic() - started < limit or refused < most_refusals:
        response = charges.submit(data, 2)
        if response.status_code == 202:
            return response.json()["task_id"], time.monotonic() - started, refused
        assert response.status_code == 503, f"{response.status_code} {response.text[:200]}"
        refused += 1
        time.sleep(0.2)
    return None, time.monotonic() - started, refused


@pytest.mark.exercise("5.2")
def test_the_api_fails_over_when_its_node_dies(charges, worker, downstream, queues_on_node_3, nodes):
    # Accepted, perhaps after a 503 per pooled connection an earlier checkpoint's kill left dead: the
    # API's connection is on node 1 now.
    before, seconds, refused = first_accepted(charges, limit=patience(4), most_refusals=12, data="before")
    assert before is not None, f"the API answered 503 for {seconds:.0f} s with every node up ({refused} refusals)"
    nodes.kill_rabbitmq(rabbitmq.NODES[0])  # the first node of the list: the one every client starts with
    task_id, seconds, refused = first_accepted(charges, limit=patience(4), most_refusals=12)
    assert task_id is not None, (
        f"the API answered 503 for {seconds:.0f} s after node 1 died ({refused} refusals), with nodes 2 and 3 "
        "up: its publisher never tried them. Broker.connect must try every node of the list "
        "(one attempt per node: kombu switches node only between retries)"
    )
    after = [before, task_id, *(charges.task_id(f"after {i}", 2) for i in range(4))]
    charges.wait_done(after, timeout=60, stall=30, advice="the worker did not fail over to another node")
    assert not downstream.duplicated(), f"charged more than once: {downstream.duplicated()}"
