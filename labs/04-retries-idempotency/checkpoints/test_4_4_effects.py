"""Exercise 4.4: one charge per task however often it runs, and one stored result per task id."""

import uuid

import pytest


@pytest.mark.exercise("4.4")
def test_a_lost_reply_then_a_retry_charges_once(charges, worker, downstream):
    downstream.faults(lose_reply_next=1)  # the first call charges, then answers 503
    task_id = charges.task_id("lost reply", 1)
    charges.wait_done([task_id], timeout=20)
    assert downstream.ledger()["calls"] == 2, "expected the charge to be tried twice (a 503, then a retry)"
    n = downstream.charges_for(task_id)
    assert n == 1, f"the retry charged the customer again: {n} charges for one task (send an Idempotency-Key)"


@pytest.mark.exercise("4.4")
def test_results_are_stored_once_behind_a_unique_index(fresh_stack):
    from app import services
    from app.db import TASK_RESULTS, sync_database

    db = sync_database()
    services.ensure_indexes(db)
    unique = [ix["key"] for ix in db[TASK_RESULTS].list_indexes() if ix.get("unique")]
    assert any("task_id" in dict(key) for key in unique), f"no unique index on {TASK_RESULTS}.task_id"
    task_id = str(uuid.uuid4())
    services.store_result(db[TASK_RESULTS], task_id, {"digest": "first"})
    services.store_result(db[TASK_RESULTS], task_id, {"digest": "second"})  # a redelivered task stores again
    docs = list(db[TASK_RESULTS].find({"task_id": task_id}))
    assert len(docs) == 1 and docs[0]["result"] == {"digest": "first"}, f"expected one document, the first: {docs}"
