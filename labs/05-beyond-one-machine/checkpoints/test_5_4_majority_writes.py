"""Exercise 5.4: a kill -9 of the MongoDB primary mid-flow loses no result a task was told was written.

A write the primary alone acknowledged is lost when the primary dies before a secondary copied it:
the two others elect a primary without it. On loopback the secondaries copy within a millisecond,
so the checkpoint holds that window open, as a slow network would: once a task has started, it
freezes both secondaries (SIGSTOP), waits until the task's result is written on the primary alone,
kills the primary (SIGKILL) and thaws the two others, which elect a new primary. Written with
w="majority", that result was never acknowledged: the task retries it on the new primary, and every
task ends SUCCESS with its result stored once.
"""

import pytest
from pymongo import MongoClient
from pymongo.read_concern import ReadConcern

from queuelabs.cluster import mongodb
from queuelabs.settings import CLUSTER
from queuelabs.testing.checks import patience
from queuelabs.waiting import eventually, wait_until

TASKS = 4
ADVICE = "a task whose write met the failover must retry it (a ConnectionFailure is an outage, not a bug)"
ASK = "Ask for w='majority' in the workers' MongoDB client (WRITES)"


def check_write_concern() -> None:
    """What the workers' client asks of every write, read before any task is sent."""
    from app.db import sync_client

    asked = sync_client().write_concern.document
    if "w" not in asked:
        pytest.fail(
            "the workers' MongoDB writes state no write concern, so they take the server's default: majority "
            "on this set today, but w:1 with an arbiter, before MongoDB 5.0, or once an operator changes it, "
            f"and a result the primary alone acknowledged dies with it. {ASK}",
            pytrace=False,
        )
    if asked["w"] in (0, 1):
        journal = " (j=True keeps a write through a restart of that one member, not through its loss)"
        pytest.fail(
            f"the workers' MongoDB writes are acknowledged by the primary alone ({asked}){journal if asked.get('j') else ''}: "
            f"if it dies before a secondary copied them, the new primary never had them. {ASK}",
            pytrace=False,
        )


@pytest.mark.exercise("5.4")
def test_no_acknowledged_result_is_lost_when_the_primary_dies(charges, lab_worker, downstream, celery_app, nodes):
    from app.db import TASK_RESULTS, sync_database

    check_write_concern()
    lab_worker.start(2)
    primary = nodes.mongodb_primary()
    results = sync_database().get_collection(TASK_RESULTS, read_concern=ReadConcern("majority"))
    task_ids = [charges.task_id(f"majority {i}", 60) for i in range(TASKS)]  # about 3 s of work each
    wait_until(
        lambda: charges.status(task_ids[0]).get("attempts"), timeout=patience(20), what="the first task to start"
    )
    with (
        MongoClient(mongodb.direct_url(CLUSTER.mongodb[primary - 1]), serverSelectionTimeoutMS=2_000) as direct,
        nodes.frozen_mongodb([number for number in (1, 2, 3) if number != primary]),
    ):
        on_the_primary = direct[results.database.name][TASK_RESULTS]  # read there alone: what it holds

        def stored_on_the_primary() -> set[str]:
            return {doc["task_id"] for doc in on_the_primary.find({"task_id": {"$in": task_ids}}, {"task_id": 1})}

        before = stored_on_the_primary()  # results of tasks that ended before the freeze, copied already
        written = wait_until(
            lambda: stored_on_the_primary() - before,
            timeout=patience(20),
            interval=0.1,
            what="a task's result to be written on the primary while its secondaries are frozen",
        )
        # The worker hears back within milliseconds when the primary alone acknowledges; a majority
        # write cannot be acknowledged now at all. A short look (never a reason to fail correct code):
        acknowledged = eventually(
            lambda: [task_id for task_id in written if celery_app.AsyncResult(task_id).state == "SUCCESS"],
            timeout=0.5,
            interval=0.05,
        )
        assert not acknowledged, (
            f"task {acknowledged[0]} ended SUCCESS while both secondaries were frozen: its result was acknowledged "
            f"by the primary alone, and dies with it. {ASK}"
        )
        nodes.kill_mongodb(primary)  # with the primary alone holding that write; the two others thaw now
    wait_until(
        lambda: mongodb.primary_number() not in (None, primary),
        timeout=patience(60),
        interval=0.5,
        what="the two thawed members to elect a new primary",
    )
    done = charges.wait_done(task_ids, timeout=90, stall=45, advice=ADVICE, failing_over=True)
    for task_id in done:
        stored = results.count_documents({"task_id": task_id})
        assert stored == 1, (
            f"task {task_id} ended SUCCESS, but the new primary holds {stored} result(s) for it: acknowledged "
            f"by the old primary alone, the write died with it. {ASK}"
        )
    assert not downstream.duplicated(), f"charged more than once: {downstream.duplicated()}"
