"""Exercise 4.6: tasks that fail for good, and poison messages, end in the dead-letter queue."""

import uuid
from urllib.parse import quote

import pytest

from queuelabs.isolation import queue_info, rabbitmq_api
from queuelabs.settings import TEST_VHOST
from queuelabs.waiting import WaitTimeout, eventually


def dead_letters(charges) -> dict[str, dict]:
    body = charges.http.get("/api/dead-letters").json()
    return {letter["task_id"]: letter for letter in body["dead_letters"]}


def wait_for_dead_letter(charges, celery_app, task_id: str, timeout: float) -> dict:
    letter = eventually(lambda: dead_letters(charges).get(task_id), timeout=timeout)
    if letter is None:
        raise WaitTimeout(f"no dead letter after {timeout:g} s: {why_no_dead_letter(celery_app)}")
    return letter


def why_no_dead_letter(celery_app) -> str:
    """The likely cause, read from RabbitMQ: the payments queue's arguments, then the settings."""
    from app.celery_app import DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE

    arguments = (queue_info("payments") or {}).get("arguments") or {}
    exchange, routing_key = arguments.get("x-dead-letter-exchange"), arguments.get("x-dead-letter-routing-key")
    if not exchange:
        return "the payments queue has no x-dead-letter-exchange argument (WORK_QUEUE_ARGUMENTS)"
    if rabbitmq_api("GET", f"/exchanges/{quote(TEST_VHOST, safe='')}/{quote(exchange, safe='')}").status_code == 404:
        return (
            f"x-dead-letter-exchange is {exchange!r}, an exchange that does not exist, so RabbitMQ drops "
            f"the message: use {DEAD_LETTER_EXCHANGE!r} (DEAD_LETTER_EXCHANGE)"
        )
    if routing_key != DEAD_LETTER_QUEUE:
        return f"x-dead-letter-routing-key is {routing_key!r}: the dead-letter exchange routes {DEAD_LETTER_QUEUE!r}"
    if celery_app.conf.task_acks_on_failure:
        return "task_acks_on_failure is True (ACKS_ON_FAILURE): a failed task is acknowledged, never rejected"
    return "the payments queue has its dead-letter arguments: is the task rejected, not acknowledged (4.3, 4.6)?"


@pytest.mark.exercise("4.6")
@pytest.mark.provokes("DownstreamUnavailable: payment service answered")
def test_exhausted_retries_are_dead_lettered_then_replayed(charges, worker, downstream, celery_app):
    downstream.faults(fail_rate=1)  # down for good
    task_id = charges.task_id("doomed", 1)
    final = charges.wait_done([task_id], timeout=15, want="FAILURE")[task_id]
    assert final["attempts"] >= 2, "the task should have been retried before giving up"
    letter = wait_for_dead_letter(charges, celery_app, task_id, timeout=5)
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
    letter = wait_for_dead_letter(charges, celery_app, task_id, timeout=6)
    assert letter["task"] == "payments.no_such_task"
