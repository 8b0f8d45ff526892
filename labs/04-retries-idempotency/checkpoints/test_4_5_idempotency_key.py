"""Exercise 4.5: Idempotency-Key on submission: replay, one client's keys, 422 on another body, 409 in flight, expiry."""

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from queuelabs import faults
from queuelabs.testing.checks import check_response


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
def test_a_key_belongs_to_one_client(charges, worker):
    """Two shops both number their orders from 1: the same key from another client is another order."""
    key = f"order-{uuid.uuid4()}"
    alice = check_response(charges.submit("pay once", 1, key=key, client="alice"), expected=202).json()["task_id"]
    again = check_response(charges.submit("pay once", 1, key=key, client="alice"), expected=202).json()["task_id"]
    bob = check_response(charges.submit("pay once", 1, key=key, client="bob"), expected=202).json()["task_id"]
    assert again == alice, "the same client, key and body must get its first task id back"
    assert bob != alice, (
        "another client (X-Client-Id: bob) with the same Idempotency-Key and body got alice's task id: "
        "keys belong to one client; scope the key with services.client_key(client_id, idempotency_key)"
    )


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


def submit_at_once(charges, key: str, clients: int) -> list:
    """`clients` submissions with one key and one body, released at the same instant."""
    start = threading.Barrier(clients)

    def submit(_):
        start.wait()
        return charges.submit("at the same time", 1, key=key)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(submit, range(clients)))


@pytest.mark.exercise("4.5")
def test_simultaneous_repeats_accept_one_task(charges, worker):
    """Clients retry at once (a timeout, a double click): the key must be claimed in ONE step."""
    for round_number in range(3):
        answers = submit_at_once(charges, f"order-{uuid.uuid4()}", clients=12)
        accepted = {a.json()["task_id"] for a in answers if a.status_code == 202}
        others = sorted({a.status_code for a in answers} - {202, 409})
        assert not others, f"simultaneous repeats of one key answered {others}: expected 202 (a replay) or 409"
        assert len(accepted) == 1, (
            f"12 simultaneous requests with one Idempotency-Key accepted {len(accepted)} different tasks "
            f"(round {round_number + 1}): the key was read, then written, and two requests both found it free. "
            "Claim it in one atomic step (SET ... NX: services.claim_idempotency_key)"
        )
