"""Exercise 5.1: the tasks queued on a cluster survive a kill -9 of the node that holds their queue."""

import pytest

from queuelabs.cluster import rabbitmq
from queuelabs.cluster.clients import queue_info
from queuelabs.settings import TEST_VHOST
from queuelabs.testing.checks import patience
from queuelabs.waiting import wait_until


def check_replicated(name: str) -> dict:
    info = queue_info(name) or {}
    kind = info.get("type", "missing")
    assert kind == "quorum", (
        f"the {name} queue is a {kind} queue: its messages live on node 3 alone, and die with it. "
        "Declare it with x-queue-type = quorum in its queue_arguments (REPLICATED); "
        "task_default_queue_type does not reach the queues of task_queues"
    )
    return info


@pytest.mark.exercise("5.1")
def test_the_task_queues_are_replicated_on_every_node(queues_on_node_3):
    for name in ("payments", "payments.dead"):
        info = check_replicated(name)
        members = set(info.get("members") or [])
        assert members == {node.erlang_name for node in rabbitmq.NODES}, f"{name}: replicas on {sorted(members)} only"


@pytest.mark.exercise("5.1")
def test_tasks_survive_a_kill_9_of_the_node_holding_their_queue(
    charges, lab_worker, downstream, queues_on_node_3, nodes
):
    from app.db import TASK_RESULTS, sync_database

    check_replicated("payments")  # a classic queue would lose them all: no need to wait and see
    leader = rabbitmq.queue_leader(TEST_VHOST, "payments")
    assert leader is not None, "no RabbitMQ node answers for the payments queue's leader"
    lab_worker.start(2)
    task_ids = [charges.task_id(f"replicated {i}", 20) for i in range(8)]  # about 1 s of work each
    wait_until(
        lambda: charges.status(task_ids[0])["status"] == "STARTED", timeout=patience(20), what="the first task to start"
    )
    nodes.kill_rabbitmq(leader)  # the node with the queue's leader: its messages must be elsewhere too
    done = charges.wait_done(
        task_ids,
        timeout=60,
        stall=30,
        advice=f"the node that held the queue ({leader.erlang_name}) was killed",
    )
    assert rabbitmq.queue_leader(TEST_VHOST, "payments") not in (None, leader), "the queue's leader did not move"
    assert not downstream.duplicated(), f"charged more than once: {downstream.duplicated()}"
    results = sync_database()[TASK_RESULTS]
    for task_id in done:
        assert results.count_documents({"task_id": task_id}) == 1, f"task {task_id}: not exactly one stored result"
