"""Exercise 5.3: a result acknowledged by MongoDB survives a kill -9 of the primary that took it."""

import pytest
from pymongo import MongoClient
from pymongo.read_concern import ReadConcern

from queuelabs.cluster import mongodb
from queuelabs.settings import CLUSTER
from queuelabs.testing.checks import patience
from queuelabs.waiting import eventually, wait_until


def stored_on(port: int, database: str, task_id: str) -> bool:
    """Whether one member holds the task's result in its own data, replicated or not."""
    with MongoClient(mongodb.direct_url(port), serverSelectionTimeoutMS=2000) as member:
        return member[database]["task_results"].count_documents({"task_id": task_id}) > 0


@pytest.mark.exercise("5.3")
def test_a_stored_result_survives_a_kill_9_of_the_primary(charges, worker, downstream, nodes, celery_app):
    from app.core.config import settings

    primary = nodes.mongodb_primary()
    port = CLUSTER.mongodb[primary - 1]
    secondaries = [number for number in (1, 2, 3) if number != primary]
    for _attempt in range(3):  # a busy machine may see the task start too late: then another task
        task_id = charges.task_id("durable", 30)  # 1.5 s of work, then the charge and the result
        wait_until(
            lambda t=task_id: charges.status(t)["status"] == "STARTED", timeout=patience(20), what="the task to start"
        )
        # From now on nothing the primary writes reaches the secondaries (and within 5 s the primary,
        # cut off from the majority, steps down: the result is written well before).
        with nodes.frozen_mongodb(secondaries):
            if stored_on(port, settings.MONGODB_DB, task_id):
                continue  # stored (and copied) before the freeze: this task proves nothing
            # The result reaches the primary's own data in both cases. With w=1 it is acknowledged at
            # once and the task ends SUCCESS; with w="majority" the write waits for the frozen members.
            wait_until(
                lambda t=task_id: stored_on(port, settings.MONGODB_DB, t),
                timeout=patience(10),
                interval=0.05,
                what="the task's result to reach the primary",
            )
            # Let an acknowledged write end the task (w=1 does at once; a majority write cannot, the
            # secondaries are frozen): killed before its acknowledgement, a w=1 write is retried too.
            eventually(lambda t=task_id: celery_app.AsyncResult(t).state == "SUCCESS", timeout=patience(3))
            nodes.kill_mongodb(primary)  # the only member that has it
            break
    else:
        pytest.fail("three tasks stored their result before the secondaries were frozen: a very busy machine?")
    wait_until(lambda: "PRIMARY" in mongodb.member_states().values(), timeout=patience(30), what="a new primary")
    result = celery_app.AsyncResult(task_id)
    wait_until(lambda: result.state in ("SUCCESS", "FAILURE"), timeout=patience(40), what=f"task {task_id} to end")
    with MongoClient(mongodb.URL, serverSelectionTimeoutMS=10_000) as client:
        results = client[settings.MONGODB_DB].get_collection("task_results", read_concern=ReadConcern("majority"))
        kept = results.count_documents({"task_id": task_id})
    assert kept == 1, (
        f"task {task_id} ended {result.state}, and its stored result is gone: acknowledged by the primary "
        'alone (w=1), it was rolled back when that primary died. Write with w="majority" (and the journal)'
    )
    assert result.state == "SUCCESS", f"task {task_id} ended {result.state}: {result.result!r}"
    assert not downstream.duplicated(), f"charged more than once: {downstream.duplicated()}"
