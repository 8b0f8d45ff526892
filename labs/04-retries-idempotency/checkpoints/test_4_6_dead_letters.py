"""Exercise 4.6: tasks that fail for good, and poison messages, end in the dead-letter queue."""

import uuid

import pytest

from queuelabs.waiting import wait_until


def dead_letters(charges) -> dict[str, dict]:
    body = charges.http.get("/api/dead-letters").json()
    return {letter["task_id"]: letter for letter in body["dead_letters"]}


@pytest.mark.exercise("4.6")
def test_exhausted_retries_are_dead_lettered_then_replayed(charges, worker, downstream):
    downstream.faults(fail_rate=1)  # down for good
    task_id = charges.task_id("doomed", 1)
    final = charges.wait_done([task_id], timeout=15, want="FAILURE")[task_id]
    assert final["attempts"] >= 2, "the task should have been retried before giving up"
    letter = wait_until(lambda: dead_letters(charges).get(task_id), timeout=5, what="the dead letter")
    assert letter["reason"] == "rejected" and letter["queue"] == "payments", letter
    downstream.faults(fail_rate=0)  # the service is back: replay
    replay = charges.http.post(f"/api/dead-letters/{task_id}/replay")
    assert replay.status_code == 202, replay.text
    charges.wait_done([task_id], timeout=20)
    assert task_id not in dead_letters(charges), "a replayed dead letter must leave the dead-letter queue"
    assert downstream.charges_for(task_id) == 1


@pytest.mark.exercise("4.6")
def test_a_poison_message_is_dead_lettered(charges, worker, celery_app):
    task_id = str(uuid.uuid4())
    celery_app.send_task("payments.no_such_task", task_id=task_id, queue="payments")  # no worker can run it
    letter = wait_until(lambda: dead_letters(charges).get(task_id), timeout=6, what="the poison message's dead letter")
    assert letter["task"] == "payments.no_such_task"
