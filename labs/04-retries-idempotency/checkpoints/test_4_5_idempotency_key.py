"""Exercise 4.5: Idempotency-Key on submission: replay, 422 on another body, 409 in flight, expiry."""

import os
import threading
import time
import uuid

import pytest

from queuelabs.testing import faults


@pytest.mark.exercise("4.5")
def test_a_repeat_gets_the_first_answer_until_the_key_expires(charges, worker, downstream):
    key = f"order-{uuid.uuid4()}"
    first = charges.submit("pay once", 1, key=key)
    again = charges.submit("pay once", 1, key=key)
    assert first.status_code == again.status_code == 202, f"{first.status_code} then {again.status_code}: {again.text}"
    assert again.json()["task_id"] == first.json()["task_id"], "the same key and body must return the first task id"
    other = charges.submit("pay twice", 1, key=key)
    assert other.status_code == 422, f"the same key with another body must be 422, not {other.status_code}"
    time.sleep(float(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "3")) + 0.5)
    later = charges.submit("pay once", 1, key=key)
    assert later.status_code == 202 and later.json()["task_id"] != first.json()["task_id"], (
        "after IDEMPOTENCY_TTL_SECONDS the key is forgotten: a new task"
    )
    charges.wait_done([first.json()["task_id"], later.json()["task_id"]], timeout=15)
    assert downstream.ledger()["calls"] == 2, "two accepted tasks (the first and the one after expiry), two charges"


@pytest.mark.exercise("4.5")
def test_a_repeat_while_the_first_is_in_flight_is_409(charges, worker):
    key = f"order-{uuid.uuid4()}"
    answers = {}

    def first_request():
        answers["first"] = charges.submit("in flight", 1, key=key)

    with faults.frozen(faults.service_pid("rabbitmq")):  # the first request waits for RabbitMQ's confirm
        thread = threading.Thread(target=first_request)
        thread.start()
        time.sleep(0.5)
        answers["second"] = charges.submit("in flight", 1, key=key)
        thread.join(30)
    assert answers["second"].status_code == 409, (
        f"a repeat while the first request is still being accepted must be 409, not {answers['second'].status_code}"
    )
    assert answers["first"].status_code == 503, f"RabbitMQ was frozen: the first must be 503, not {answers['first']}"
    retry = charges.submit("in flight", 1, key=key)
    assert retry.status_code == 202, f"the failed first request must release the key: got {retry.status_code}"
