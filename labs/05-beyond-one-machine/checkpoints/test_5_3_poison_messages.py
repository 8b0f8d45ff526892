"""Exercise 5.3: a task that kills its worker every time ends in the dead-letter queue, not in a loop.

Late acks and reject_on_worker_lost (4.3) hand the task of a killed pool process back to RabbitMQ,
so it runs again. The checkpoint plays a poison message: each time its task starts, the pool
process running it is killed (SIGKILL, by pid), as a task that segfaults or runs out of memory
would be. With x-delivery-limit on the quorum work queue, RabbitMQ stops delivering it after a few
tries and dead-letters it (reason delivery_limit); the tasks queued beside it still run.
"""

import pytest

from queuelabs import faults
from queuelabs.cluster.clients import purge_queues, queue_info
from queuelabs.testing.checks import patience
from queuelabs.waiting import wait_until

HIGHEST_LIMIT = 5  # every delivery of a poison message costs a worker process
POISON_ITERATIONS = 200  # 10 s of work at the checkpoints' 0.05 s a step: killed long before it ends
HEALTHY = 2


def delivery_limit() -> int:
    """The work queue's x-delivery-limit, checked before any task is sent."""
    info = queue_info("payments") or {}
    if info.get("type") != "quorum":
        pytest.fail(
            f"the payments queue is a {info.get('type', 'missing')} queue: x-delivery-limit is a quorum queue's "
            "argument (exercise 5.1 first)",
            pytrace=False,
        )
    limit = (info.get("arguments") or {}).get("x-delivery-limit")
    assert isinstance(limit, int) and limit > 0, (
        "the payments queue has no x-delivery-limit: a task that kills its worker is handed back and "
        "delivered again for ever (late acks + reject_on_worker_lost). Give the work queue "
        "x-delivery-limit in its queue_arguments (POISON_LIMIT)"
    )
    assert limit <= HIGHEST_LIMIT, (
        f"x-delivery-limit is {limit}: a poison message would take down {limit + 1} worker processes before "
        f"RabbitMQ stops it. A few deliveries tell an unlucky task from a poison one: 1 to {HIGHEST_LIMIT}"
    )
    return limit


@pytest.mark.exercise("5.3")
def test_a_task_that_kills_its_worker_every_time_is_dead_lettered(charges, lab_worker, downstream, lab):
    lab_worker.stop()  # a worker of one pool process: the one running the poison task is the one to kill
    lab_worker.start(1)
    try:
        kill_the_poison_task_each_time(charges, lab_worker, downstream)
    except BaseException:
        purge_queues(lab.manifest.checkpoints.queues)  # a poison task left queued would haunt the next checkpoint
        raise
    finally:
        lab_worker.stop()  # the next checkpoint starts the worker it needs


def kill_the_poison_task_each_time(charges, lab_worker, downstream) -> None:
    limit = delivery_limit()
    poison = charges.task_id("poison", POISON_ITERATIONS)
    healthy = [charges.task_id(f"healthy {i}", 2) for i in range(HEALTHY)]
    kills = 0

    def started_again_or_dead() -> str | None:
        if poison in charges.dead_letters():
            return "dead"
        status = charges.status(poison)
        assert status["status"] != "SUCCESS", "the poison task finished: the checkpoint could not kill it in time"
        return "started" if status.get("attempts", 0) > kills else None

    while True:
        state = wait_until(
            started_again_or_dead,
            timeout=patience(60),
            interval=0.2,
            what=f"the poison task to start again, or to be dead-lettered ({kills} kill(s) so far)",
        )
        if state == "dead":
            break
        assert kills <= limit, (
            f"the poison task was delivered {kills + 1} times, killing its worker each time, with "
            f"x-delivery-limit = {limit}: RabbitMQ should have dead-lettered it"
        )
        faults.kill_worker_child(lab_worker.proc)  # the task's pool process dies, as on a segfault
        kills += 1

    letter = charges.dead_letters()[poison]
    assert letter["reason"] == "delivery_limit", (
        f"the poison task was dead-lettered after {kills} crash(es) with the reason {letter['reason']}, not "
        "delivery_limit: a task whose worker died must still be handed back (task_reject_on_worker_lost = True, "
        "4.3), so that an unlucky task runs again; x-delivery-limit is what ends the loop of a poison one"
    )
    assert kills >= 2, f"dead-lettered after {kills} delivery: it was never handed back to run again"
    charges.wait_done(healthy, timeout=30, advice="the tasks queued beside the poison one must still run")
    assert not downstream.duplicated(), f"charged more than once: {downstream.duplicated()}"
    assert downstream.charges_for(poison) == 0, "the poison task was charged: it never got that far"
