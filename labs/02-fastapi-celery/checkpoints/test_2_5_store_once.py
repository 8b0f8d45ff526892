"""Exercise 2.5: the result is stored in MongoDB once per task id, however often the task runs."""

import time
import uuid

import pytest

from queuelabs.testing.checks import fail_if_not_started


def stored_for(task_id: str) -> dict:
    """The documents of one task: keyed by its id (the upsert), or carrying it in a field (the starter)."""
    return {"$or": [{"_id": task_id}, {"task_id": task_id}]}


@pytest.mark.exercise("2.5")
def test_storing_twice_keeps_one_document(fresh_stack):
    from app import services
    from app.db import sync_database

    collection = sync_database()["checkpoint_store_once"]
    task_id = str(uuid.uuid4())
    first, second = {"iterations": 1, "digest": "first"}, {"iterations": 1, "digest": "second"}
    services.store_result(collection, task_id, first)
    services.store_result(collection, task_id, second)  # a redelivered task stores again
    count = collection.count_documents(stored_for(task_id))
    assert count == 1, f"store_result twice for one task id left {count} documents: make it an upsert keyed by the id"
    stored = collection.find_one(stored_for(task_id))
    assert stored.get("result") == first, (
        f"the second run overwrote the first one's result (stored: {stored.get('result')}): the first write must "
        "win. $set writes on every run; put the fields under $setOnInsert, written only when the upsert inserts"
    )
    assert stored.get("deliveries") == 2, (
        f"two runs of task {task_id} left deliveries={stored.get('deliveries')!r}: count every run with "
        '"$inc": {"deliveries": 1} beside the $setOnInsert'
    )


def wait_for_runs(task, task_id: str, worker, runs: int, timeout: float = 15.0) -> None:
    """Wait until the worker's log shows `runs` successful runs of this task id.

    (The result backend cannot tell: Redis keeps the first SUCCESS and ignores
    later ones, so the log is the witness of the second run.)
    """
    done = f"{task.name}[{task_id}] succeeded"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = worker.proc.log_path.read_text(errors="replace")
        if log.count(done) >= runs:
            return
        meta = task.backend.get_task_meta(task_id, cache=False)
        if meta["status"] == "FAILURE":
            fail_if_not_started(meta.get("result"))
            raise AssertionError(f"the task failed: {meta.get('result')}")
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not succeed {runs} time(s) within {timeout:g} s")


@pytest.mark.exercise("2.5")
def test_a_task_run_twice_stores_one_result(worker):
    from app.db import TASK_RESULTS, sync_database
    from app.tasks import process_report

    task_id = str(uuid.uuid4())
    kwargs = {"data": "run me twice", "iterations": 2}
    process_report.apply_async(kwargs=kwargs, task_id=task_id)
    wait_for_runs(process_report, task_id, worker, runs=1)
    process_report.apply_async(kwargs=kwargs, task_id=task_id)  # the same message, delivered again
    wait_for_runs(process_report, task_id, worker, runs=2)
    count = sync_database()[TASK_RESULTS].count_documents(stored_for(task_id))
    assert count == 1, f"the task ran twice and left {count} documents in {TASK_RESULTS}: expected 1"
