"""Exercise 2.3: a RabbitMQ that hangs after the API has been using it costs a 503, not a frozen API.

A fresh connection to a broker that never answers (test_2_3_nonblocking.py)
is the easy case: the connection time-out ends it. Here the real RabbitMQ is
frozen by pid (SIGSTOP: it keeps its sockets open and answers nothing) AFTER
the API has published a few tasks, so the API's connection is warm: only a
time limit on every broker call (declare, publish, its confirm) ends the
wait. Compared in one run: how long the submissions took to fail, and how
fast GET /api/items answered meanwhile. Then RabbitMQ is thawed and a
submission is accepted again.
"""

import threading
import time

import httpx
import pytest

from queuelabs import faults
from queuelabs.testing import contract
from queuelabs.testing.checks import check_response, fail_if_not_started
from queuelabs.timing import percentile
from queuelabs.waiting import wait_until

SUBMISSIONS = 12
# A guard, not a performance claim: an unbounded publish hangs for minutes.
GIVE_UP_SECONDS = 20


@pytest.mark.exercise("2.3")
def test_a_frozen_broker_answers_503_and_the_api_stays_fast(api):
    with contract.client(api) as http:
        for _ in range(3):  # warm: the API has a working connection to RabbitMQ
            contract.submit(http, data="warm up", iterations=1)
    answers: list[tuple[httpx.Response | Exception, float]] = []

    def submit() -> None:
        start = time.monotonic()
        try:
            with httpx.Client(timeout=GIVE_UP_SECONDS) as client:
                reply = client.post(f"{api}/api/async/process", json={"data": "frozen", "iterations": 1})
        except httpx.TimeoutException as exc:
            reply = exc
        answers.append((reply, time.monotonic() - start))

    probes: list[float] = []
    with faults.frozen(faults.service_pid("rabbitmq")):
        threads = [threading.Thread(target=submit) for _ in range(SUBMISSIONS)]
        for thread in threads:
            thread.start()
        with httpx.Client(base_url=api, timeout=GIVE_UP_SECONDS) as client:
            while any(thread.is_alive() for thread in threads):
                start = time.monotonic()
                check_response(client.get("/api/items", params={"limit": 5}), expected=200)
                probes.append(time.monotonic() - start)
                time.sleep(0.05)
        for thread in threads:
            thread.join()

    for reply, took in answers:
        assert not isinstance(reply, Exception), (
            f"a submission got no answer within {GIVE_UP_SECONDS} s while RabbitMQ was frozen: "
            "put a time limit on every broker call (connect, declare, publish, confirm), not only on connecting"
        )
        if reply.status_code == 501:
            fail_if_not_started(reply.text)
        assert reply.status_code == 503, (
            f"with RabbitMQ frozen, a submission answered {reply.status_code} after {took:.1f} s, expected 503: "
            f"{reply.text[:200]}. Did RabbitMQ confirm it? (confirm_publish)"
        )
        detail = reply.json()["detail"]
        assert "\n" not in detail and "RabbitMQ" in detail, f"the 503 should name RabbitMQ in one line: {detail!r}"
    slowest = max(took for _, took in answers)
    items_p95 = percentile(probes, 95)
    assert items_p95 < slowest / 4, (
        f"GET /api/items p95 was {items_p95:.2f} s while submissions took up to {slowest:.2f} s to fail: "
        "waiting for RabbitMQ held up other requests (a thread pool full of stuck publishes?)"
    )

    def accepted_again() -> bool:
        with httpx.Client(timeout=GIVE_UP_SECONDS) as client:
            return client.post(f"{api}/api/async/process", json={"data": "thawed", "iterations": 1}).status_code == 202

    wait_until(accepted_again, timeout=30, interval=0.5, what="a submission to be accepted after RabbitMQ thawed")
